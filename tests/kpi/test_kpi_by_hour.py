"""``DailyReport.shop_by_hour``: the shop's reply rate (K03) by the hour buyers first wrote.

Each buyer-day counts in the hour of its first clock, whole hours from the
local midnight of its day, whatever the basis; the counts are the shop's own,
split. Checked against a recount of the units ``detail=True`` lists.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from hypothesis import given
from kpi_helpers import agent, at, buyer
from kpi_strategies import OPTIONS, WINDOWS, shop_day

from kefu import kpi
from kefu.kpi import Rate, Status, Window
from kefu.kpi.window import day_bounds

STATUS_FIELD = {Status.MET: "met", Status.MISSED: "missed", Status.PENDING: "pending",
                Status.EXCLUDED: "excluded"}


def recount(rep: kpi.DailyReport, tz: str) -> dict[int, dict[str, int]]:
    """Counts by hour from the FIRST basis' units (their start is the first clock)."""
    firsts = {(u.day, u.buyer_id): u for u in rep.shop_by_basis["first"].units}
    out: dict[int, dict[str, int]] = {}
    for u in rep.shop.units:
        start = firsts[(u.day, u.buyer_id)].start
        hour = int((start - day_bounds(u.day, tz)[0]) // 3600)
        counts = out.setdefault(hour, {"met": 0, "missed": 0, "pending": 0, "excluded": 0})
        counts[STATUS_FIELD[u.status]] += 1
    return out


def counts_of(by_hour: dict[int, Rate]) -> dict[int, dict[str, int]]:
    return {h: {"met": r.met, "missed": r.missed, "pending": r.pending,
                "excluded": r.excluded} for h, r in by_hour.items()}


@given(shop_day(), OPTIONS, WINDOWS)
def test_K03_shop_by_hour_splits_the_shop_units_by_the_hour_of_their_first_clock(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None) -> None:
    kwargs: dict[str, Any] = {
        "requests": rec["requests"], "releases": rec["releases"], "ends": rec["ends"],
        "tz": "Asia/Shanghai", "window": window, "basis": opts["basis"],
        "as_of": opts["as_of"], "before_window": opts["before_window"],
        "excluded_buyers": {"b1"},
    }
    plain = kpi.daily_report(rec["messages"], rec["handovers"], **kwargs)
    full = kpi.daily_report(rec["messages"], rec["handovers"], detail=True, **kwargs)
    assert plain.shop_by_hour == full.shop_by_hour
    assert counts_of(dict(plain.shop_by_hour)) == recount(full, "Asia/Shanghai")
    assert list(plain.shop_by_hour) == sorted(plain.shop_by_hour)
    for field in ("met", "missed", "pending", "excluded", "at_risk"):
        assert sum(getattr(r, field) for r in plain.shop_by_hour.values()) == getattr(
            plain.shop, field)


def test_K03_shop_by_hour_counts_elapsed_hours_on_a_day_the_clocks_go_back() -> None:
    """New York, 2026-11-01: 01:00-02:00 happens twice, so 01:30 after the change is the
    third hour from midnight (hour 2) and 10:00 is hour 11."""
    ny = zoneinfo.ZoneInfo("America/New_York")
    day = dt.date(2026, 11, 1)
    second_0130 = at(1, 30, day=day, tz=ny) + 3600  # at() takes the first 01:30
    ten = at(10, day=day, tz=ny)
    msgs = [buyer(second_0130, "s1", "b1"), buyer(ten, "s2", "b2"), agent(ten + 10, "s2", "b2")]
    rep = kpi.daily_report(msgs, day=day, tz=ny, window=Window.whole_day())
    assert {h: (r.met, r.missed) for h, r in rep.shop_by_hour.items()} == {2: (0, 1),
                                                                            11: (1, 0)}


def test_K03_shop_by_hour_counts_past_24_on_a_day_the_clocks_go_back_two_hours() -> None:
    """Antarctica/Troll, 2026-10-25: +02 back to +00, a 26-hour day, so 23:30 is hour 25
    (the docs once promised at most 24)."""
    troll = zoneinfo.ZoneInfo("Antarctica/Troll")
    day = dt.date(2026, 10, 25)
    late = at(23, 30, day=day, tz=troll)
    msgs = [buyer(late, "s1", "b1"), agent(late + 10, "s1", "b1")]
    rep = kpi.daily_report(msgs, day=day, tz=troll, window=Window.whole_day())
    assert {h: (r.met, r.missed) for h, r in rep.shop_by_hour.items()} == {25: (1, 0)}
