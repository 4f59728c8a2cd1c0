"""The fast paths agree with a naive recomputation (K03, K04, K07, K08).

The library computes from a columnar timeline, in runs of clocks, with a
one-window shortcut per session and buyer-days folded on the fly
(kefu.kpi.timeline, kefu.kpi.clocks, kefu.kpi.measure). ``kpi_reference``
recomputes the same figures clock by clock from the SPEC text; on random
small days both must agree exactly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import DAY, SH, agent, at, buyer, hand, switch
from kpi_reference import MET, MISSED, PENDING, Reference
from kpi_strategies import OPTIONS, WINDOWS, sessions

from kefu import kpi
from kefu.kpi import Durations, Window


def _counts(r: kpi.Rate) -> dict[str, int]:
    return {MET: r.met, MISSED: r.missed, PENDING: r.pending, "excluded": r.excluded,
            "at_risk": r.at_risk}


def _durations(values: list[float]) -> Durations:
    return Durations.of(sorted(values))


def check(rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None,
          threshold: float, excluded: frozenset[str]) -> None:
    common: dict[str, Any] = {
        "requests": rec["requests"], "releases": rec["releases"], "day": DAY, "tz": SH,
        "window": window, "as_of": opts["as_of"], "before_window": opts["before_window"],
        "excluded_buyers": excluded, "ends": rec.get("ends", ()),
    }
    ref = Reference(rec["messages"], rec["handovers"], rec["releases"], rec["requests"],
                    day=DAY, tz=SH, window=window or Window.default(), threshold=threshold,
                    as_of=opts["as_of"], warn_after=100.0, before_window=opts["before_window"],
                    excluded=excluded, ends=rec.get("ends", ()))
    shop = kpi.shop_reply_rate(rec["messages"], rec["handovers"], basis=opts["basis"],
                               threshold=threshold, **common)
    per_buyer, per_session = ref.shop(opts["basis"])
    fates = ("still_waiting", "never_reached")
    assert {**_counts(shop), **{f: getattr(shop, f) for f in fates}} == per_buyer
    assert {**_counts(shop.per_session), **{f: getattr(shop, f + "_sessions") for f in fates}
            } == per_session
    agents = kpi.agent_reply_rates(rec["messages"], rec["handovers"], threshold=threshold,
                                   **common)
    assert {a: _counts(r) for a, r in agents.items()} == ref.agents()
    times = kpi.response_times(rec["messages"], rec["handovers"], threshold=threshold,
                               **common)
    samples = ref.samples()
    shop_samples = samples.pop(None, {"cal": [], "win": [], "first_cal": [], "first_win": []})
    assert times.replies.calendar == _durations(shop_samples["cal"])
    assert times.replies.in_window == _durations(shop_samples["win"])
    assert times.first.calendar == _durations(shop_samples["first_cal"])
    assert times.first.in_window == _durations(shop_samples["first_win"])
    assert set(times.by_agent) == set(samples)
    for name, got in times.by_agent.items():
        assert got.replies.calendar == _durations(samples[name]["cal"])
        assert got.replies.in_window == _durations(samples[name]["win"])
        assert got.first.calendar == _durations(samples[name]["first_cal"])


@given(sessions(), OPTIONS, WINDOWS, st.sampled_from([180.0, 60.0]),
       st.sampled_from([frozenset(), frozenset({"b0"})]))
def test_K03_K04_K08_fast_paths_agree_with_a_naive_recomputation(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None,
        threshold: float, excluded: frozenset[str]) -> None:
    check(rec, opts, window, threshold, excluded)


def test_K03_K04_K08_naive_recomputation_on_a_worked_day() -> None:
    """The cross-check on a day built to hit every edge of the shortcuts, with known figures.

    s1 has clocks on both sides of closing time (one session, two windows);
    s4 is transferred at the very instant of a reply (which belongs to the stretch
    that ends then, alice's, so bob's stretch has no wait: K04); s3 starts before
    opening.
    """
    t0 = at(10)
    msgs = [buyer(t0), agent(t0 + 60), buyer(t0 + 100), agent(t0 + 400),  # s1: met, then late
            buyer(at(23, 1)), agent(at(23, 2)),  # s1 again, after closing time: not counted
            buyer(at(22, 59), "s2", "b2"), agent(at(23, 4), "s2", "b2"),  # s2: past closing
            buyer(at(7, 59), "s3", "b3"), agent(at(8, 2), "s3", "b3"),  # s3: before opening
            buyer(at(12), "s4", "b4"), agent(at(12, 2), "s4", "b4", "bob")]
    rec = {"messages": msgs, "requests": [switch(t0 - 30)], "releases": [],
           "handovers": [hand(t0), hand(at(22, 59), "bob", "s2", "b2"),
                         hand(at(7, 59), "bob", "s3", "b3"), hand(at(12), "alice", "s4", "b4"),
                         hand(at(12, 2), "bob", "s4", "b4")]}
    for basis in ("first", "any"):
        for policy in ("exclude", "open"):
            check(rec, {"basis": basis, "before_window": policy, "as_of": None}, None, 180.0,
                  frozenset())
    t = kpi.response_times(msgs, rec["handovers"], requests=rec["requests"], day=DAY,
                           before_window="open")
    # s1: 60 and 300 s; s2: 300 s (60 in the window); s3: 120 s from the 08:00 opening;
    # s4: 120 s for the shop and for alice (the reply came as her stretch ended).
    assert t.replies.calendar == Durations(5, 180.0, 120.0, 300.0)
    assert t.replies.in_window == Durations(5, 132.0, 120.0, 300.0)
    assert t.first.calendar == Durations(4, 150.0, 120.0, 300.0)
    assert t.by_agent["bob"].replies.calendar == Durations(2, 210.0, 210.0, 300.0)
    assert t.by_agent["alice"].replies.calendar == Durations(3, 160.0, 120.0, 300.0)
    rates = kpi.agent_reply_rates(msgs, rec["handovers"], requests=rec["requests"], day=DAY)
    assert (rates["alice"].met, rates["alice"].missed) == (2, 0)  # s1 and s4
    assert (rates["bob"].met, rates["bob"].missed) == (0, 1)  # s2 missed; s4 no wait of his
