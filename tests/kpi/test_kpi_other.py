"""Worked examples for K05, K08, K10, K11, the daily report and data quality."""

from __future__ import annotations

import datetime as dt

import pytest
from kpi_helpers import DAY, agent, at, buyer, hand, switch

from kefu import kpi
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Event,
    Opened,
    Pool,
    Queued,
    Reassigned,
    Requeued,
    RequeueReason,
    Transferred,
)
from kefu.kpi import EvalSource, Evaluation, Message, Order, Rating, Sender

T0 = at(10)


def card(sent: float, rating: Rating, *, agent_id: str | None = "alice", by_bot: bool = False,
         card_id: str | None = None, rated: float | None = None, who: str = "b1",
         session: str = "s1", source: EvalSource = EvalSource.INVITED) -> Evaluation:
    return Evaluation(session, who, agent_id, sent, rating, source, by_bot=by_bot,
                      card_id=card_id, rated_at=rated)


# K05 -------------------------------------------------------------------------------------


def test_K05_good_rating_rate_counts_human_cards_in_the_window() -> None:
    evs = [card(T0, Rating.SATISFIED, source=EvalSource.BUYER),
           card(T0 + 1, Rating.NORMAL, source=EvalSource.INVITED),
           card(T0 + 2, Rating.DISAPPOINTED, source=EvalSource.SYSTEM),
           card(T0 + 3, Rating.SATISFIED, by_bot=True, agent_id=None),
           card(at(23, 0, 0), Rating.DISAPPOINTED),  # sent at 23:00: outside
           card(at(7, 59), Rating.DISAPPOINTED)]
    s = kpi.satisfaction(evs, day=DAY)
    assert (s.satisfied, s.normal, s.disappointed) == (1, 1, 1)
    assert (s.numerator, s.denominator, s.rate) == (1, 3, 1 / 3)
    assert s.bot_service == 1


def test_K05_no_ratings_is_none_not_zero_or_hundred() -> None:
    s = kpi.satisfaction([card(T0, Rating.SATISFIED, by_bot=True)], day=DAY)
    assert (s.denominator, s.rate) == (0, None)


def test_K05_a_re_rating_replaces_the_earlier_one() -> None:
    evs = [card(T0, Rating.DISAPPOINTED, card_id="c1", rated=T0 + 60),
           card(T0, Rating.SATISFIED, card_id="c1", rated=T0 + 3600)]
    final = kpi.satisfaction(evs, day=DAY)
    assert (final.satisfied, final.disappointed, final.replaced, final.rate) == (1, 0, 1, 1.0)
    back_then = kpi.satisfaction(evs, day=DAY, as_of=T0 + 120)
    assert (back_then.satisfied, back_then.disappointed, back_then.rate) == (0, 1, 0.0)


def test_K05_credited_to_the_agent_serving_when_the_card_was_sent() -> None:
    hands = [hand(T0, "alice", group="presale"), hand(T0 + 300, "bob", group="presale")]
    evs = [card(T0 + 100, Rating.SATISFIED, agent_id="bob"),
           card(T0 + 400, Rating.NORMAL, agent_id="alice")]
    s = kpi.satisfaction(evs, hands, day=DAY)
    assert {a: (x.met, x.missed) for a, x in s.by_agent.items()} == {
        "alice": (1, 0), "bob": (0, 1)}
    assert s.by_group["presale"].denominator == 2
    alone = kpi.satisfaction(evs, day=DAY)  # no hand-overs: the card's own agent
    assert {a: x.met for a, x in alone.by_agent.items()} == {"alice": 0, "bob": 1}


def test_K05_excluded_buyer_ratings_are_removed() -> None:
    evs = [card(T0, Rating.SATISFIED, who="b1"), card(T0, Rating.DISAPPOINTED, who="bad")]
    s = kpi.satisfaction(evs, day=DAY, excluded_buyers={"bad"})
    assert (s.met, s.missed, s.excluded, s.rate) == (1, 0, 1, 1.0)


# K08 -------------------------------------------------------------------------------------


def test_K08_first_and_average_response_times() -> None:
    msgs = [buyer(T0), agent(T0 + 30), buyer(T0 + 100), agent(T0 + 160),
            buyer(T0 + 1000), buyer(T0 + 1010), agent(T0 + 1200)]
    t = kpi.response_times(msgs, [hand(T0)], day=DAY)
    assert t.replies.calendar == kpi.Durations(3, (30 + 60 + 200) / 3, 60.0, 200.0)
    assert t.first.calendar == kpi.Durations(1, 30.0, 30.0, 30.0)
    assert t.replies.in_window == t.replies.calendar
    assert t.by_agent["alice"].replies.calendar.count == 3


def test_K08_p90_is_nearest_rank_and_median_averages_the_middle_pair() -> None:
    msgs, hands = [], []
    for n in range(10):
        t = T0 + 1000 * n
        msgs += [buyer(t, f"s{n}", f"b{n}"), agent(t + 10 * (n + 1), f"s{n}", f"b{n}")]
        hands.append(hand(t, session=f"s{n}", who=f"b{n}"))
    d = kpi.response_times(msgs, hands, day=DAY).first.calendar
    assert (d.count, d.median, d.p90, d.mean) == (10, 55.0, 90.0, 55.0)


def test_K08_in_window_seconds_skip_the_night() -> None:
    d2 = DAY + dt.timedelta(days=1)
    msgs = [buyer(at(22, 59)), agent(at(8, 1, day=d2))]
    t = kpi.response_times(msgs, [hand(at(22, 59))], day=DAY)
    assert t.first.calendar.mean == 9 * 3600 + 120
    assert t.first.in_window.mean == 120.0
    assert t.by_agent["alice"].replies.in_window.mean == 120.0


def test_K08_agent_times_run_from_the_hand_over_and_the_switch() -> None:
    msgs = [buyer(T0), agent(T0 + 400)]
    t = kpi.response_times(msgs, [hand(T0 + 300)], requests=[switch(T0 + 100)], day=DAY)
    assert t.first.calendar.mean == 300.0  # from the switch
    assert t.by_agent["alice"].first.calendar.mean == 100.0  # from the hand-over


def test_K08_excluded_and_unanswered_are_counted_not_timed() -> None:
    msgs = [buyer(T0, "s1", "b1"), buyer(T0, "s2", "bad"), agent(T0 + 5, "s2", "bad")]
    t = kpi.response_times(msgs, [hand(T0, session="s1"), hand(T0, session="s2", who="bad")],
                           day=DAY, excluded_buyers={"bad"})
    assert (t.replies.calendar.count, t.unanswered, t.excluded) == (0, 1, 1)
    assert t.replies.calendar.mean is None


# K10 -------------------------------------------------------------------------------------


def _consults() -> tuple[list[Message], list[kpi.Handover]]:
    msgs, hands = [], []
    for n, (name, group) in enumerate([("alice", "red"), ("bob", "red"), ("carol", "blue")]):
        t = T0 + 60 * n
        msgs += [buyer(t, f"s{n}", f"b{n}"), agent(t + 20, f"s{n}", f"b{n}", name)]
        hands.append(hand(t, name, f"s{n}", f"b{n}", group))
    return msgs, hands


def test_K10_inquiry_conversion_rate_with_attribution_window() -> None:
    msgs, hands = _consults()
    orders = [Order("o1", "b0", at(12), 100.0), Order("o2", "b1", at(12), 50.0),
              Order("o3", "b1", at(13), 70.0), Order("o9", "nobody", at(12), 1.0)]
    r = kpi.inquiry_conversion(msgs, hands, orders, day=DAY)
    assert (r.met, r.missed, r.rate) == (2, 1, 2 / 3)
    assert {a: x.met for a, x in r.by_agent.items()} == {"alice": 1, "bob": 1, "carol": 0}
    short = kpi.inquiry_conversion(msgs, hands, orders, day=DAY, attribution=3600)
    assert (short.met, short.missed) == (0, 3)
    live = kpi.inquiry_conversion(msgs, hands, orders, day=DAY, as_of=at(11))
    assert (live.met, live.pending, live.rate) == (0, 3, None)


def test_K10_group_pk_credits_the_last_answering_agent() -> None:
    msgs, hands = _consults()
    orders = [Order("o1", "b0", at(12), 100.0), Order("o2", "b1", at(12), 50.0),
              Order("o3", "b2", at(12), 120.5), Order("o4", "stranger", at(12), 9.0)]
    pk = kpi.group_pk(msgs, hands, orders, day=DAY)
    assert pk.ranking == ("red", "blue")
    assert (pk.teams["red"].orders, pk.teams["red"].revenue) == (2, 150.0)
    assert pk.teams["red"].agents["alice"] == kpi.AgentScore(1, 100.0)
    assert pk.teams["blue"].revenue == 120.5
    assert pk.unattributed == kpi.AgentScore(1, 9.0)
    by_team = kpi.group_pk(msgs, hands, orders, day=DAY, teams={"alice": "A", "bob": "A",
                                                                "carol": "A"})
    assert by_team.teams["A"].revenue == 270.5


# Daily report ----------------------------------------------------------------------------


def test_K03_K10_daily_report_gathers_every_kpi() -> None:
    msgs, hands = _consults()
    evs = [card(T0 + 100, Rating.SATISFIED, session="s0", who="b0")]
    rep = kpi.daily_report(msgs, hands, evs, [Order("o1", "b0", at(12), 10.0)], day=DAY)
    assert rep.shop.rate == 1.0 and rep.shop_by_basis["any"].rate == 1.0
    assert sorted(rep.agents) == ["alice", "bob", "carol"]
    assert rep.agents_total.met == 3
    assert rep.satisfaction.rate == 1.0
    assert rep.response_times.replies.calendar.mean == 20.0
    assert (rep.conversion.met, rep.conversion.missed) == (1, 2)
    assert rep.pk.teams["red"].revenue == 10.0
    same = kpi.shop_reply_rate(msgs, hands, day=DAY)
    assert rep.shop == same


def test_K06_retroactive_exclusion_reaches_every_figure_of_the_daily_report() -> None:
    # b1 is served well by alice; "bad" (reported as malicious afterwards) waited 15
    # minutes for bob, rated him disappointed, ordered, and was the last one bob answered.
    msgs = [buyer(T0, "s1", "b1"), agent(T0 + 10, "s1", "b1", "alice"),
            buyer(T0, "s2", "bad"), agent(T0 + 900, "s2", "bad", "bob")]
    hands = [hand(T0, "alice", "s1", "b1", "red"), hand(T0, "bob", "s2", "bad", "blue")]
    evs = [card(T0 + 20, Rating.SATISFIED, session="s1"),
           card(T0 + 950, Rating.DISAPPOINTED, agent_id="bob", session="s2", who="bad")]
    orders = [Order("o1", "b1", at(12), 10.0), Order("o2", "bad", at(12), 99.0)]
    before = kpi.daily_report(msgs, hands, evs, orders, day=DAY)
    after = kpi.daily_report(msgs, hands, evs, orders, day=DAY, excluded_buyers={"bad"})
    assert (before.shop.rate, before.agents["bob"].missed, before.satisfaction.rate) == (
        0.5, 1, 0.5)
    assert (before.response_times.replies.calendar.count, before.conversion.met) == (2, 2)
    assert before.pk.teams["blue"].revenue == 99.0
    for rate in (after.shop, after.shop.per_session, after.shop_by_basis["any"],
                 after.agents["bob"], after.agents_total, after.satisfaction, after.conversion):
        assert rate.excluded == 1 and rate.excluded_by == {"malicious": 1}
    assert (after.shop.rate, after.agents_total.rate, after.satisfaction.rate) == (1.0, 1.0, 1.0)
    assert after.agents["bob"].rate is None  # his only unit is gone, not 0 %
    assert (after.response_times.replies.calendar.count, after.response_times.excluded) == (1, 1)
    assert "bob" not in after.response_times.by_agent
    assert (after.conversion.met, after.conversion.rate) == (1, 1.0)
    assert (after.pk.excluded, after.pk.ranking) == (1, ("red",))


def test_data_quality_of_the_daily_report_counts_every_kind_of_record() -> None:
    m1 = buyer(T0, mid="q1", seq=1)
    msgs = [m1, m1,  # a duplicate
            buyer(T0 + 1, mid="q2", seq=0),  # seq lower than the previous message's
            Message("s1", "b1", T0 + 2, Sender.UNKNOWN, "u1"),  # unknown sender
            agent(T0 + 5, mid="r1"), buyer(T0 + 50, mid="q3"), agent(T0 + 70, mid="r2")]
    evs = [card(T0 + 100, Rating.SATISFIED, card_id="c1")] * 2 + [
        card(T0 + 200, Rating.NORMAL, rated=T0 + 150)]  # rated before sent
    orders = [Order("o1", "b1", at(12), 10.0), Order("o1", "b1", at(12), 10.0),
              Order("o2", "b1", at(13), 5.0), Order("o2", "b1", at(13, 1), 5.0)]
    rep = kpi.daily_report(msgs, [hand(T0 + 30), hand(T0 + 30)], evs, orders, day=DAY,
                           requests=[switch(T0 + 30)])
    q = rep.quality
    # duplicates: message m1, the hand-over, the evaluation, o1 and o2; conflicts: o2
    assert (q.duplicates, q.conflicts, q.unknown_senders, q.out_of_order) == (5, 1, 1, 1)
    # negative: the reply at +5 came before the switch at +30; the card rated before sent
    assert q.negative_durations == 2
    assert q.total == 10
    assert rep.shop.quality == kpi.DataQuality(2, 0, 1, 1, 1)  # messages and hand-overs
    assert (rep.shop.met, rep.shop.total) == (1, 1)  # the +50 question, answered in 20 s


# K11 -------------------------------------------------------------------------------------


def test_K11_from_events_turns_assigner_events_into_records() -> None:
    t = T0
    events: list[Event] = [
        Opened("s1", "b1", "presale", 0, t),
        Queued("s1", Pool.QUEUE, t),
        Assigned("s1", "alice", t + 60, AssignReason.DRAIN),
        Transferred("s1", "alice", "bob", t + 120),
        Reassigned("s1", "bob", "carol", t + 400),
        Closed("s1", "carol", None, t + 500, CloseReason.MANUAL),
        Opened("s1", "b1", "presale", 0, t + 600),  # the id is used again (R16)
        Assigned("s1", "dave", t + 600, AssignReason.NEW),
        Requeued("s1", "dave", t + 700, RequeueReason.AGENT_OFFLINE),
    ]
    msgs = [agent(t + 130, name="bob"), agent(t + 610, name="dave")]
    recs = kpi.from_events(events, msgs)
    assert [(h.session_id, h.agent_id, h.group) for h in recs.handovers] == [
        ("s1", "alice", "presale"), ("s1", "bob", "presale"), ("s1", "carol", "presale"),
        ("s1#2", "dave", "presale")]
    assert [(r.session_id, r.agent_id) for r in recs.releases] == [
        ("s1", "carol"), ("s1#2", "dave")]
    opens = sorted((m.session_id, m.at) for m in recs.messages if m.sender is Sender.BUYER)
    assert opens == [("s1", t), ("s1#2", t + 600)]
    assert {m.session_id for m in recs.messages if m.sender is Sender.AGENT} == {"s1", "s1#2"}
    r = kpi.shop_reply_rate(recs.messages, recs.handovers, releases=recs.releases, day=DAY)
    assert (r.per_session.met, r.per_session.missed) == (2, 0)  # 130 s, then 10 s
    rates = kpi.agent_reply_rates(recs.messages, recs.handovers, releases=recs.releases,
                                  day=DAY)
    assert {a: (x.met, x.missed) for a, x in rates.items()} == {
        "bob": (1, 0), "dave": (1, 0)}  # alice held it 60 s: no unit


def test_K11_from_a_real_assigner_run() -> None:
    from kefu import Assigner, ManualClock

    clock = ManualClock(T0)
    a = Assigner(clock=clock)
    events = []
    events += a.add_agent("alice") or []
    events += a.agent_online("alice")
    events += a.open_session("s1", buyer="b1")
    clock.advance(200)
    events += a.agent_message("s1")
    recs = kpi.from_events(events, [agent(T0 + 200, name="alice")])
    r = kpi.shop_reply_rate(recs.messages, recs.handovers, day=DAY)
    assert (r.met, r.missed) == (0, 1)


# Data quality ----------------------------------------------------------------------------


def test_data_quality_duplicates_are_dropped_and_counted() -> None:
    m1 = buyer(T0, mid="x1")
    msgs = [m1, m1, Message("s1", "b1", T0, Sender.BUYER, "x1"), agent(T0 + 30, mid="x2")]
    r = kpi.shop_reply_rate(msgs, [hand(T0), hand(T0)], day=DAY)
    assert (r.met, r.total) == (1, 1)
    assert (r.quality.duplicates, r.quality.conflicts) == (3, 0)


def test_data_quality_conflicting_duplicate_keeps_the_earliest_copy() -> None:
    msgs = [agent(T0 + 30, mid="r"), buyer(T0, mid="q"), buyer(T0 + 60, mid="q")]
    r = kpi.shop_reply_rate(msgs, [hand(T0)], day=DAY)
    assert (r.met, r.total) == (1, 1)
    assert (r.quality.duplicates, r.quality.conflicts) == (1, 1)


def test_data_quality_out_of_order_seq_and_negative_durations_are_flagged() -> None:
    msgs = [buyer(T0, seq=2), buyer(T0 + 1, seq=1),
            Message("s1", "b1", T0 + 20, Sender.AGENT, "r1", agent_id="alice", seq=3)]
    r = kpi.shop_reply_rate(msgs, [hand(T0)], day=DAY)
    assert r.quality.out_of_order == 1
    # A human reply before the switch to human service cannot be timed.
    bad = kpi.shop_reply_rate([buyer(T0), agent(T0 + 5), buyer(T0 + 50), agent(T0 + 70)],
                              [hand(T0 + 30)], requests=[switch(T0 + 30)], day=DAY)
    assert bad.quality.negative_durations == 1
    assert (bad.met, bad.total) == (1, 1)
    s = kpi.satisfaction([card(T0, Rating.SATISFIED, rated=T0 - 5)], day=DAY)
    assert (s.quality.negative_durations, s.rate) == (1, 1.0)


@pytest.mark.parametrize("unordered", [False, True])
def test_K03_input_order_does_not_matter(unordered: bool) -> None:
    msgs = [buyer(T0), agent(T0 + 10), buyer(T0 + 100), agent(T0 + 400)]
    if unordered:
        msgs.reverse()
    r = kpi.shop_reply_rate(msgs, [hand(T0)], basis="any", day=DAY)
    assert (r.met, r.missed) == (0, 1)


def test_K11_from_events_is_reachable_at_the_design_path() -> None:
    from kefu import kpi
    from kefu.kpi import records

    assert records.from_events is kpi.from_events


def test_K05_ratings_that_differ_only_in_a_missing_field_do_not_depend_on_input_order() -> None:
    """Two ratings of one card at the same instant, one with agent_id None and one with
    "", or one with rated_at None and one at sent_at: the same one counts whatever the
    order the records come in."""
    from kefu.kpi import EvalSource, Evaluation, Rating

    sent = at(10)
    for a, b in [
        (Evaluation("s1", "b1", None, sent, Rating.SATISFIED, EvalSource.BUYER, card_id="c"),
         Evaluation("s1", "b1", "", sent, Rating.SATISFIED, EvalSource.BUYER, card_id="c")),
        (Evaluation("s1", "b1", "x", sent, Rating.NORMAL, EvalSource.BUYER, card_id="c"),
         Evaluation("s1", "b1", "x", sent, Rating.NORMAL, EvalSource.BUYER, card_id="c",
                    rated_at=sent)),
    ]:
        one = kpi.satisfaction([a, b], detail=True)
        other = kpi.satisfaction([b, a], detail=True)
        assert one == other and one.total == 1 and one.replaced == 1
