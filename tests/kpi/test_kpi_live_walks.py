"""K12: a catch-up measured in walks of any size gives the same figures.

A query measures the sessions that changed in walks of a few sessions each
(``live._WALK``), so that what a walk makes dies young. Every session is
measured as if on its own, so the figures cannot depend on how the sessions
are grouped: with walks of one, two or three sessions, or all of them in
one, every figure equals the pure functions' over the same records.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import SH
from kpi_strategies import WINDOWS, shop_day
from test_kpi_live import check, some_ages

from kefu.kpi import LiveTracker, Window, live


@given(shop_day(), WINDOWS, st.sampled_from(["exclude", "open"]),
       st.sampled_from([1, 2, 3, 10_000]), st.randoms(use_true_random=False))
def test_K12_walks_of_any_size_give_the_pure_functions_figures(
        rec: dict[str, list[Any]], window: Window | None, policy: str, walk: int,
        rnd: random.Random) -> None:
    records = [r for kind, rs in rec.items() if kind != "orders" for r in rs]
    rnd.shuffle(records)
    opts: dict[str, Any] = {"tz": SH, "window": window, "threshold": 180.0,
                            "before_window": policy}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live, "_WALK", walk)
        tracker = LiveTracker(**opts)
        half = len(records) // 2
        tracker.extend(records[:half])
        check(tracker, records[:half], opts, some_ages(rnd))
        tracker.extend(records[half:])
        check(tracker, records, opts)
