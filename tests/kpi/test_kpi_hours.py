"""Contacts by local hour (K13's ``by_hour``): the hour table gives ``fromtimestamp``'s hour.

The compiled contact count looks a contact's local hour up in a table of the
instants where the hour changes (:mod:`kefu.kpi.hours`) instead of making a
datetime per contact. It must give exactly the hour ``datetime.fromtimestamp``
gives, on days the clocks change, in zones whose offset is not whole hours or
changed by seconds, and next to every boundary (``fromtimestamp`` rounds to the
microsecond); a zone of the user's own code gets no table.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zoneinfo
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import agent, at, buyer, hand

from kefu.kpi import Window, kernel, service_figures
from kefu.kpi.hours import hour_table

Z = zoneinfo.ZoneInfo
# (zone, a day): clocks forward, back, back two hours, by half an hour, a +05:45 zone,
# an offset of seconds dropped (Monrovia's -00:44:30 became -00:45 in 1972), fixed ones.
ZONES: list[tuple[dt.tzinfo, dt.date]] = [
    (Z("America/New_York"), dt.date(2026, 3, 8)),
    (Z("America/New_York"), dt.date(2026, 11, 1)),
    (Z("Antarctica/Troll"), dt.date(2026, 10, 25)),
    (Z("Australia/Lord_Howe"), dt.date(2026, 4, 5)),
    (Z("Asia/Kathmandu"), dt.date(2026, 11, 11)),
    (Z("Africa/Monrovia"), dt.date(1972, 1, 7)),
    (Z("Asia/Shanghai"), dt.date(2026, 11, 11)),
    (dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.date(2026, 11, 11)),
    (dt.timezone.utc, dt.date(2026, 11, 11)),
]


def _span(tz: dt.tzinfo, day: dt.date) -> tuple[float, float]:
    start = dt.datetime.combine(day, dt.time(), tz).timestamp()
    return start - 3600.0, start + 26 * 3600.0


def _looked_up(table: tuple[array[float], list[int]], t: float) -> int | None:
    """What the table promises for ``t`` (None: ``t`` is left to ``fromtimestamp``)."""
    bounds, hours = table
    for k, hour in enumerate(hours):
        if bounds[k] <= t < bounds[k + 1] - 1e-6:
            return hour
    return None


@given(st.sampled_from(ZONES), st.data())
def test_K13_the_hour_table_gives_fromtimestamps_hour(zone: tuple[dt.tzinfo, dt.date],
                                                      data: st.DataObject) -> None:
    tz, day = zone
    lo, hi = _span(tz, day)
    table = hour_table(tz, lo, hi)
    assert table is not None
    bounds, hours = table
    assert bounds[0] <= lo and bounds[-1] > hi and len(bounds) == len(hours) + 1
    near = data.draw(st.sampled_from(list(bounds)[1:-1]))
    for t in [data.draw(st.floats(lo, hi)), near - 1e-6, near - 5e-7, near - 3e-7,
              near - 1e-7, near, near + 1e-7, near - 1.0, near + 0.5]:
        found = _looked_up(table, t)
        assert found is None or found == dt.datetime.fromtimestamp(t, tz).hour
    assert _looked_up(table, near - 2e-6) is not None  # only the last microsecond is left


class _Odd(dt.tzinfo):
    """A zone of the user's own code: its offset is whatever it says, each time."""

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=3)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "ODD"


def test_K13_a_zone_of_the_users_own_code_or_a_sub_second_offset_gets_no_table() -> None:
    assert hour_table(_Odd(), 0.0, 3600.0) is None
    assert hour_table(dt.timezone(dt.timedelta(seconds=1.5)), 0.0, 3600.0) is None
    assert hour_table(dt.timezone.utc, 0.0, 400 * 86400.0) is None  # too long a span


@given(st.sampled_from([*ZONES, (_Odd(), dt.date(2026, 11, 11))]),
       st.lists(st.floats(0.0, 26 * 3600.0), min_size=1, max_size=12))
def test_K13_contacts_by_hour_are_alike_on_both_kernels(zone: tuple[dt.tzinfo, dt.date],
                                                        offsets: list[float]) -> None:
    """The compiled count (the table) and the reference (``fromtimestamp`` per contact)
    put every contact in the same hour, whole day windows across a clock change."""
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    tz, day = zone
    start = at(0, day=day, tz=tz)
    msgs, hands = [], []
    for k, off in enumerate(offsets):
        sid, who = f"s{k}", f"b{k}"
        msgs.append(buyer(start + off, session=sid, who=who))
        msgs.append(agent(start + off + 30.0, session=sid, who=who))
        hands.append(hand(start + off + 1.0, session=sid, who=who))
    figures = _on_both_kernels(msgs, hands, day, tz)
    assert figures[0] == figures[1]
    assert sum(f.offered for f in figures[0].by_hour.values()) == figures[0].offered


def _on_both_kernels(msgs: list[Any], hands: list[Any], day: dt.date, tz: dt.tzinfo
                     ) -> list[Any]:
    """The day's service figures by the compiled kernel, then by the pure one."""
    figures = []
    saved = kernel.ACTIVE
    try:
        for name in ("c", "py"):
            kernel.ACTIVE = name
            figures.append(service_figures(msgs, hands, day=day, tz=tz,
                                           window=Window.whole_day()))
    finally:
        kernel.ACTIVE = saved
    return figures


def _zone_file(transitions: list[tuple[int, int]], key: str | None = None
               ) -> zoneinfo.ZoneInfo:
    """A ZoneInfo read from a TZif file (version 1) of our own: UTC, then each
    (instant, offset in seconds) of ``transitions``."""
    offsets = [0, *(off for _, off in transitions)]
    data = b"TZif" + bytes(16) + struct.pack(">6l", 0, 0, 0, len(transitions),
                                              len(offsets), 2)
    data += b"".join(struct.pack(">l", t) for t, _ in transitions)
    data += bytes(range(1, len(offsets)))
    data += b"".join(struct.pack(">lbB", off, 0, 0) for off in offsets) + b"Z\0"
    return zoneinfo.ZoneInfo.from_file(io.BytesIO(data), key=key)


def test_K13_a_zone_file_changing_twice_within_an_hour_gets_fromtimestamps_hour() -> None:
    """A zone read from a file is not the tz database's: its offset may go and come
    back within an hour (+01:00 for ten minutes here), which a table checking an
    hour's offset at its two ends would not see."""
    t1 = 1700000600  # 2023-11-14 22:23:20 UTC
    tz = _zone_file([(t1, 3600), (t1 + 600, 0)])
    table = hour_table(tz, t1 - 7200.0, t1 + 7200.0)
    for t in (t1 - 1.0, t1 + 300.0, t1 + 599.5, t1 + 900.0):
        found = None if table is None else _looked_up(table, t)
        assert found is None or found == dt.datetime.fromtimestamp(t, tz).hour
    if "c" not in kernel.AVAILABLE:
        return
    day = dt.date(2023, 11, 14)
    msgs = [buyer(t1 + 300.0), agent(t1 + 330.0)]
    hands = [hand(t1 + 301.0)]
    figures = _on_both_kernels(msgs, hands, day, tz)
    assert figures[0] == figures[1]
    assert set(figures[0].by_hour) == {(day, 23)}


def test_K13_only_the_tz_databases_own_zoneinfo_gets_a_table() -> None:
    shanghai = Z("Asia/Shanghai")
    assert hour_table(shanghai, 0.0, 3600.0) is not None
    assert hour_table(Z.no_cache("Asia/Shanghai"), 0.0, 3600.0) is None
    assert hour_table(_zone_file([]), 0.0, 3600.0) is None
    assert hour_table(_zone_file([], key="Asia/Shanghai"), 0.0, 3600.0) is None
    assert hour_table(_zone_file([], key="No/Such_Zone"), 0.0, 3600.0) is None
