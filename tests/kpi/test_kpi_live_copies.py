"""K12: conflicting copies of a message id move the message, and the tracker follows.

The pure functions keep one copy per message id, the first in the global
order; a later copy with an earlier time, or one filed in another session,
moves the message. The tracker keeps each session's messages in a list and
takes a moved copy out of its old session's list: after any order of
feeding, every figure must equal the pure functions' over the same records.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import SH
from kpi_strategies import shop_day
from test_kpi_live import check, some_ages

from kefu.kpi import LiveTracker, Message


@given(shop_day(), st.randoms(use_true_random=False))
def test_K12_conflicting_copies_move_messages_between_sessions_as_the_pure_functions(
        rec: dict[str, list[Any]], rnd: random.Random) -> None:
    records = [r for kind, rs in rec.items() if kind != "orders" for r in rs]
    messages = [r for r in records if type(r) is Message]
    sessions = sorted({m.session_id for m in messages})
    for m in messages:
        if rnd.random() < 0.3:  # a copy earlier, later, or in another session
            records.append(attrs.evolve(m, at=m.at + rnd.choice([-30.0, -0.5, 0.0, 45.0]),
                                        session_id=rnd.choice(sessions)))
    rnd.shuffle(records)
    opts: dict[str, Any] = {"tz": SH, "window": None, "threshold": 180.0,
                            "before_window": "exclude"}
    tracker = LiveTracker(**opts)
    fed: list[Any] = []
    for n, r in enumerate(records):
        tracker.add(r)
        fed.append(r)
        if n % 7 == 6:
            check(tracker, fed, opts, some_ages(rnd))
    check(tracker, fed, opts)
    kept = [m for s in tracker._sessions.values() for m in s.messages]
    assert sorted(m.message_id for m in kept) == sorted(tracker._kept)
    assert all(tracker._kept[m.message_id] is m for m in kept)
