"""Repeated records count once (K11): ``dedupe`` keeps what one dict over every record's
fields keeps, in the same places, the same objects, whatever the times and ties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kefu.kpi.records import Handover, Release
from kefu.kpi.timeline import INF, dedupe, fields_of

_T0 = 1_700_000_000
# Few values, so equal records and equal times are common; 1 and 1.0, 0 and -0.0 are
# equal times of different types (the kept record is then observable).
_TIMES = st.sampled_from([float(_T0), _T0, _T0 + 0.5, _T0 + 1, float(_T0 + 1), 0.0, -0.0, 0])
_HANDOVERS = st.builds(Handover, session_id=st.sampled_from(["s1", "s2"]), buyer_id=st.just("b"),
                       agent_id=st.sampled_from(["a1", "a2"]), at=_TIMES,
                       group=st.sampled_from([None, "g"]), seq=st.integers(0, 1))
_RELEASES = st.builds(Release, session_id=st.sampled_from(["s1", "s2"]),
                      agent_id=st.sampled_from(["a1", "a2"]), at=_TIMES, seq=st.integers(0, 1))


def _oracle(records: list[object], as_of: float, fields: object) -> tuple[list[object], int]:
    seen = [r for r in records if r.at <= as_of]  # type: ignore[attr-defined]
    unique = list(dict(zip(map(fields, seen), seen, strict=True)).values())  # type: ignore[call-overload]
    return unique, len(seen) - len(unique)


@given(st.lists(_HANDOVERS, max_size=30),
       st.sampled_from([INF, float(_T0), _T0 + 0.5]))
def test_k11_dedupe_handovers_as_one_dict_keeps_them(recs: list[Handover], as_of: float) -> None:
    fields = fields_of(Handover)
    got, dropped = dedupe(recs, as_of, lambda r: r.at, fields)
    want, want_dropped = _oracle(list(recs), as_of, fields)
    assert dropped == want_dropped
    assert [id(r) for r in got] == [id(r) for r in want]


@given(st.lists(_RELEASES, max_size=30))
def test_k11_dedupe_releases_as_one_dict_keeps_them(recs: list[Release]) -> None:
    fields = fields_of(Release)
    copies = recs + [Release(r.session_id, r.agent_id, r.at, r.seq) for r in recs[::2]]
    got, dropped = dedupe(copies, INF, lambda r: r.at, fields)
    want, want_dropped = _oracle(copies, INF, fields)
    assert dropped == want_dropped >= len(recs[::2])
    assert [id(r) for r in got] == [id(r) for r in want]


def test_k11_dedupe_distinct_times_keep_the_input_list_order() -> None:
    recs = [Release("s", "a", _T0 + k, 0) for k in (3, 1, 2)]
    got, dropped = dedupe(recs, INF, lambda r: r.at, fields_of(Release))
    assert (got, dropped) == (recs, 0) and got is not recs
