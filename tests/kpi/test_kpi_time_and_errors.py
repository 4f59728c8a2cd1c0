"""Timezones and DST (SPEC part B, K00/K01 on local days), and typed errors for bad input."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo

import pytest
from kpi_helpers import DAY, SH, agent, at, buyer, hand

from kefu import kpi
from kefu.errors import InvalidArgument, KefuError
from kefu.kpi import Message, Sender, Window

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
SPRING = dt.date(2025, 3, 30)  # 02:00 CET -> 03:00 CEST
AUTUMN = dt.date(2025, 10, 26)  # 03:00 CEST -> 02:00 CET


def test_K00_shanghai_days_are_24_hours_and_start_at_local_midnight() -> None:
    start, end = kpi.day_bounds(DAY)  # Asia/Shanghai by default
    assert end - start == 24 * 3600
    assert start == dt.datetime(2026, 11, 10, 16, tzinfo=dt.timezone.utc).timestamp()


def test_K00_berlin_dst_days_are_23_and_25_hours() -> None:
    s1, e1 = kpi.day_bounds(SPRING, "Europe/Berlin")
    s2, e2 = kpi.day_bounds(AUTUMN, BERLIN)
    assert (e1 - s1, e2 - s2) == (23 * 3600, 25 * 3600)


def test_K00_K08_berlin_spring_duration_across_the_gap_is_real_seconds() -> None:
    # 01:59 CET to 03:01 CEST is 2 minutes, not 62.
    t1 = at(1, 59, day=SPRING, tz=BERLIN)
    t2 = at(3, 1, day=SPRING, tz=BERLIN)
    assert t2 - t1 == 120
    r = kpi.shop_reply_rate([buyer(t1), agent(t2)], [hand(t1)], day=SPRING, tz="Europe/Berlin",
                            window=Window.whole_day())
    assert (r.met, r.missed) == (1, 0)
    t = kpi.response_times([buyer(t1), agent(t2)], [hand(t1)], day=SPRING, tz=BERLIN,
                           window=Window.whole_day())
    assert t.first.calendar.mean == 120.0 and t.first.in_window.mean == 120.0


def test_K00_berlin_autumn_duration_across_the_repeated_hour_is_real_seconds() -> None:
    # 02:30 CEST to 02:31 CET (the second 02:31) is 61 minutes, not 1.
    t1 = dt.datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN).timestamp()
    t2 = dt.datetime(2025, 10, 26, 2, 31, tzinfo=BERLIN, fold=1).timestamp()
    assert t2 - t1 == 61 * 60
    r = kpi.shop_reply_rate([buyer(t1), agent(t2)], [hand(t1)], day=AUTUMN, tz=BERLIN,
                            window=Window.whole_day())
    assert (r.met, r.missed) == (0, 1)


def test_K00_berlin_units_belong_to_the_local_day_of_their_clock() -> None:
    def pair(t: float, n: int) -> list[Message]:
        return [buyer(t, f"s{n}", f"b{n}"), agent(t + 10, f"s{n}", f"b{n}")]

    late = at(23, 30, day=AUTUMN, tz=BERLIN)  # still 10-26 locally (the 25-hour day)
    early = at(0, 30, day=AUTUMN, tz=BERLIN)
    after = at(0, 30, day=AUTUMN + dt.timedelta(days=1), tz=BERLIN)
    msgs = pair(early, 1) + pair(late, 2) + pair(after, 3)
    hands = [hand(early, session="s1", who="b1"), hand(late, session="s2", who="b2"),
             hand(after, session="s3", who="b3")]
    r = kpi.shop_reply_rate(msgs, hands, tz=BERLIN, window=Window.whole_day())
    assert {d: x.met for d, x in r.by_day.items()} == {
        AUTUMN: 2, AUTUMN + dt.timedelta(days=1): 1}
    default_window = kpi.shop_reply_rate(msgs, hands, day=AUTUMN, tz=BERLIN)
    assert default_window.total == 0  # 00:30 and 23:30 are outside 08:00-23:00


def test_K01_window_edges_follow_local_time_on_a_dst_day() -> None:
    opening = at(8, day=SPRING, tz=BERLIN)
    r = kpi.shop_reply_rate([buyer(opening), agent(opening + 5)], [hand(opening)],
                            day=SPRING, tz="Europe/Berlin")
    before = kpi.shop_reply_rate([buyer(opening - 1), agent(opening + 5)], [hand(opening)],
                                 day=SPRING, tz="Europe/Berlin")
    assert (r.met, before.total) == (1, 0)


def test_K00_missing_local_midnight_starts_the_day_when_clocks_jump() -> None:
    # Chile moved from 00:00 to 01:00 on 2022-09-11: that day begins at 01:00 -03.
    start, end = kpi.day_bounds(dt.date(2022, 9, 11), "America/Santiago")
    assert start == dt.datetime(2022, 9, 11, 4, tzinfo=dt.timezone.utc).timestamp()
    assert end - start == 23 * 3600


def test_K07_aware_datetimes_are_accepted_at_the_edges() -> None:
    as_of = dt.datetime(2026, 11, 11, 10, 0, 3, tzinfo=SH)
    t1 = kpi.to_posix(dt.datetime(2026, 11, 11, 2, 0, 1, tzinfo=dt.timezone.utc))
    r = kpi.shop_reply_rate([buyer(t1)], [hand(t1)], day=DAY, as_of=as_of)
    assert (r.pending, r.rate) == (1, None)


# Errors ----------------------------------------------------------------------------------

BAD_CALLS = [
    ({"as_of": dt.datetime(2026, 11, 11, 10)}, kpi.NaiveDatetime),
    ({"as_of": "now"}, kpi.InvalidTime),
    ({"as_of": math.nan}, kpi.InvalidTime),
    ({"threshold": 0}, kpi.InvalidThreshold),
    ({"threshold": -1.0}, kpi.InvalidThreshold),
    ({"threshold": True}, kpi.InvalidThreshold),
    ({"threshold": math.inf}, kpi.InvalidThreshold),
    ({"warn_after": -1}, kpi.InvalidThreshold),
    ({"basis": "sometimes"}, kpi.UnknownBasis),
    ({"basis": 1}, kpi.UnknownBasis),
    ({"before_window": "skip"}, kpi.UnknownPolicy),
    ({"tz": "Mars/Olympus_Mons"}, kpi.UnknownTimezone),
    ({"tz": 8}, kpi.UnknownTimezone),
    ({"day": dt.datetime(2026, 11, 11, tzinfo=SH)}, kpi.InvalidDay),
    ({"day": "2026-11-11"}, kpi.InvalidDay),
    ({"day": []}, kpi.InvalidDay),
    ({"window": (8, 23)}, kpi.InvalidWindow),
    ({"excluded_buyers": "b1"}, kpi.InvalidRecord),
    ({"excluded_buyers": [1]}, kpi.InvalidRecord),
]


@pytest.mark.parametrize(("kwargs", "error"), BAD_CALLS, ids=lambda v: repr(v)[:40])
def test_bad_arguments_raise_typed_errors(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error) as info:
        kpi.shop_reply_rate([buyer(at(10))], [hand(at(10))], **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, InvalidArgument) and isinstance(info.value, KefuError)
    assert str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Window(dt.time(23), dt.time(8)),
        lambda: Window(dt.time(8), dt.time(8)),
        lambda: Window(dt.time(8, tzinfo=dt.timezone.utc), dt.time(23)),
        lambda: Window("08:00", dt.time(23)),  # type: ignore[arg-type]
    ],
)
def test_bad_windows_are_refused(make: object) -> None:
    with pytest.raises(kpi.InvalidWindow):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Message("s", "b", math.inf, Sender.BUYER, "m"),
        lambda: Message("s", "b", dt.datetime(2026, 11, 11, tzinfo=SH), Sender.BUYER, "m"),  # type: ignore[arg-type]
        lambda: Message("s", "b", 1.0, "buyer", "m"),  # type: ignore[arg-type]
        lambda: Message("s", None, 1.0, Sender.BUYER, "m"),  # type: ignore[arg-type]
        lambda: Message("s", "b", 1.0, Sender.BUYER, "m", seq=1.5),  # type: ignore[arg-type]
        lambda: kpi.Order("o", "b", 1.0, math.nan),
        lambda: kpi.Handover("s", "b", None, 1.0),  # type: ignore[arg-type]
    ],
)
def test_bad_records_are_refused_where_they_are_made(make: object) -> None:
    with pytest.raises(kpi.InvalidRecord):
        make()  # type: ignore[operator]


def test_attribution_must_be_positive() -> None:
    with pytest.raises(kpi.InvalidThreshold):
        kpi.inquiry_conversion([], [], [], attribution=0)
