"""Worked examples for the reply rates (K00-K04, K06, K07, K09); figures worked by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from kpi_helpers import DAY, agent, at, buyer, hand, other, release, switch

from kefu import kpi
from kefu.kpi import Exclusion, Sender, Status, Window

T0 = at(10)


def shop(msgs: Sequence[kpi.Message], hands: Sequence[kpi.Handover] = (),
         **kw: Any) -> kpi.ShopReplyRate:
    kw.setdefault("day", DAY)
    return kpi.shop_reply_rate(msgs, hands, **kw)


def agents(msgs: Sequence[kpi.Message], hands: Sequence[kpi.Handover],
           **kw: Any) -> Mapping[str, kpi.Rate]:
    kw.setdefault("day", DAY)
    return kpi.agent_reply_rates(msgs, hands, **kw)


# K00 -------------------------------------------------------------------------------------


def test_K00_reply_at_exactly_three_minutes_is_met() -> None:
    r = shop([buyer(T0), agent(T0 + 180)], [hand(T0)])
    assert (r.met, r.missed, r.rate) == (1, 0, 1.0)


def test_K00_reply_just_after_three_minutes_is_missed() -> None:
    r = shop([buyer(T0), agent(T0 + 180.5)], [hand(T0)])
    assert (r.met, r.missed, r.rate) == (0, 1, 0.0)


def test_K00_window_is_half_open() -> None:
    opening = shop([buyer(at(8)), agent(at(8, 1))], [hand(at(8))])
    last = shop([buyer(at(22, 59, 59.5)), agent(at(23, 0, 30))], [hand(at(22, 59, 59.5))])
    closing = shop([buyer(at(23)), agent(at(23, 0, 30))], [hand(at(23))])
    assert (opening.met, last.met, closing.total) == (1, 1, 0)
    assert closing.rate is None


def test_K00_a_unit_belongs_to_the_local_day_its_clock_starts_on() -> None:
    # Asia/Shanghai, whole-day window: 23:59:30 answered 00:02:00 the next day.
    d2 = DAY + dt.timedelta(days=1)
    msgs = [buyer(at(23, 59, 30)), agent(at(0, 2, day=d2))]
    r = shop(msgs, [hand(at(23, 59, 30))], day=None, window=Window.whole_day(), detail=True)
    assert {d: (x.met, x.missed) for d, x in r.by_day.items()} == {DAY: (1, 0)}  # 150 s
    assert r.units[0].end is not None and r.units[0].end - r.units[0].start == 150.0
    assert shop(msgs, [hand(at(23, 59, 30))], day=d2, window=Window.whole_day()).total == 0


def test_K00_custom_threshold() -> None:
    msgs = [buyer(T0), agent(T0 + 50)]
    assert shop(msgs, [hand(T0)], threshold=30).missed == 1
    assert shop(msgs, [hand(T0)], threshold=60).met == 1


# K01 -------------------------------------------------------------------------------------


def test_K01_message_at_2259_answered_at_2302_is_judged_and_missed() -> None:
    r = shop([buyer(at(22, 59)), agent(at(23, 2, 30))], [hand(at(22, 59))])
    assert (r.met, r.missed, r.rate) == (0, 1, 0.0)
    inclusive = shop([buyer(at(22, 59)), agent(at(23, 2))], [hand(at(22, 59))])
    assert (inclusive.met, inclusive.missed) == (1, 0)


def test_K01_0759_unanswered_at_0800_is_excluded_by_default() -> None:
    msgs = [buyer(at(7, 59)), agent(at(8, 2))]
    r = shop(msgs, [hand(at(7, 59))])
    assert (r.total, r.rate, r.lower, r.upper) == (0, None, None, None)
    assert agents(msgs, [hand(at(7, 59))]) == {}


def test_K01_0759_unanswered_at_0800_starts_the_clock_at_opening_when_asked() -> None:
    met = shop([buyer(at(7, 59)), agent(at(8, 2))], [hand(at(7, 59))], before_window="open")
    missed = shop([buyer(at(7, 59)), agent(at(8, 4))], [hand(at(7, 59))],
                  before_window=kpi.BeforeWindow.OPEN)
    answered_before = shop([buyer(at(7, 59)), agent(at(7, 59, 30))], [hand(at(7, 59))],
                           before_window="open")
    assert (met.met, met.missed) == (1, 0)
    assert (missed.met, missed.missed) == (0, 1)
    assert answered_before.total == 0
    rates = agents([buyer(at(7, 59)), agent(at(8, 2))], [hand(at(7, 50))], before_window="open")
    assert rates["alice"].met == 1


def test_K01_2259_answered_2302_is_judged_for_the_agent_and_timed_in_window() -> None:
    msgs = [buyer(at(22, 59)), agent(at(23, 2, 30))]
    hands = [hand(at(22, 59))]
    a = agents(msgs, hands)["alice"]
    assert (a.met, a.missed, a.rate) == (0, 1, 0.0)
    t = kpi.response_times(msgs, hands, day=DAY)
    assert (t.first.calendar.mean, t.first.in_window.mean) == (210.0, 60.0)


def test_K01_0759_still_unanswered_at_0800_in_real_time_under_both_policies() -> None:
    msgs = [buyer(at(7, 59))]
    hands = [hand(at(7, 59))]
    excluded = shop(msgs, hands, as_of=at(8, 1))
    assert (excluded.total, excluded.pending, excluded.rate) == (0, 0, None)
    opened = shop(msgs, hands, as_of=at(8, 1), before_window="open", detail=True)
    assert (opened.pending, opened.rate, opened.lower, opened.upper) == (1, None, 0.0, 1.0)
    assert opened.units[0].start == at(8)  # clocked from the opening, 60 s old
    later = shop(msgs, hands, as_of=at(8, 3, 1), before_window="open")
    assert (later.missed, later.rate) == (1, 0.0)  # 181 s after the opening
    assert agents(msgs, hands, as_of=at(8, 3, 1), before_window="open")["alice"].missed == 1


def test_K01_old_rule_0800_to_2400_is_a_parameter() -> None:
    msgs = [buyer(at(23, 30)), agent(at(23, 31))]
    assert shop(msgs, [hand(at(23, 30))]).total == 0
    r = shop(msgs, [hand(at(23, 30))], window=Window(dt.time(8), dt.time(0)))
    assert (r.met, r.total) == (1, 1)


# K02 -------------------------------------------------------------------------------------


def test_K02_bot_replies_before_the_human_hand_over_do_not_count() -> None:
    msgs = [buyer(T0), other(T0 + 2, Sender.BOT), buyer(T0 + 10), other(T0 + 12, Sender.BOT),
            agent(T0 + 120)]
    # Switched at +30: the shop clock starts there, 90 s to the human reply.
    switched = shop(msgs, [hand(T0 + 31)], requests=[switch(T0 + 30)], detail=True)
    assert (switched.met, switched.missed) == (1, 0)
    assert switched.units[0].start == T0 + 30
    # Without a switch record the session is human from its first message: 120 s, met;
    # bot replies never answered anything, so a human reply at +200 s is missed.
    late = shop([*msgs[:-1], agent(T0 + 200)], [hand(T0 + 31)])
    assert (late.met, late.missed) == (0, 1)


def test_K02_system_and_unknown_replies_do_not_count_and_unknown_is_flagged() -> None:
    msgs = [buyer(T0), other(T0 + 5, Sender.SYSTEM), other(T0 + 6, Sender.UNKNOWN),
            agent(T0 + 300)]
    r = shop(msgs, [hand(T0)])
    assert (r.met, r.missed) == (0, 1)
    assert r.quality.unknown_senders == 1


def test_K02_buyer_waiting_for_a_human_is_a_unit_from_their_first_message() -> None:
    msgs = [buyer(T0), agent(T0 + 400)]
    hands = [hand(T0 + 300)]  # five minutes in the queue pool
    waiting = shop(msgs, hands, as_of=T0 + 60)
    assert (waiting.pending, waiting.total, waiting.waiting, waiting.waiting_sessions) == (
        1, 1, 1, 1)
    assert (waiting.still_waiting, waiting.never_reached, waiting.unreached) == (1, 0, 1)
    assert waiting.longest_wait == 60.0
    # Past the threshold and still in the pool: missed already, still waiting.
    overdue = shop(msgs, hands, as_of=T0 + 200)
    assert (overdue.missed, overdue.pending, overdue.still_waiting) == (1, 0, 1)
    joined = shop(msgs, hands, as_of=T0 + 350)
    assert (joined.missed, joined.waiting, joined.unreached) == (1, 0, 0)  # pool time counts
    assert agents(msgs, hands)["alice"].met == 1  # ... but not for the agent (100 s)


def test_K02_a_buyer_who_gave_up_in_the_queue_is_missed_once_the_threshold_passes() -> None:
    left = [kpi.SessionEnd("s2", T0 + 90)]
    msgs = [buyer(T0), agent(T0 + 30), buyer(T0 + 10, "s2", "b2")]
    hands = [hand(T0)]
    early = shop(msgs, hands, ends=left, as_of=T0 + 120)
    assert (early.met, early.pending, early.missed) == (1, 1, 0)  # b2 gave up at 80 s
    assert (early.never_reached, early.still_waiting, early.waiting) == (1, 0, 0)
    late = shop(msgs, hands, ends=left, as_of=T0 + 191)
    assert (late.met, late.missed, late.rate) == (1, 1, 0.5)
    day = shop(msgs, hands, ends=left)
    assert (day.met, day.missed, day.never_reached, day.never_reached_sessions) == (1, 1, 1, 1)
    # Without the end record the same buyer is reported as still waiting.
    assert shop(msgs, hands).still_waiting == 1


def test_K02_a_session_closed_unanswered_before_reaching_an_agent_is_missed() -> None:
    msgs = [buyer(T0), buyer(T0 + 5)]
    r = shop(msgs, [], ends=[kpi.SessionEnd("s1", T0 + 600)], detail=True)
    assert (r.missed, r.never_reached, r.per_session.missed) == (1, 1, 1)
    assert r.units[0].start == T0 and r.units[0].end is None


def test_K02_a_buyer_answered_later_in_another_session_is_decided_by_the_first_one() -> None:
    # b1 gives up in s1, comes back in s2 and is answered at once: FIRST counts s1 (missed).
    msgs = [buyer(T0), buyer(T0 + 300, "s2"), agent(T0 + 310, "s2")]
    ends = [kpi.SessionEnd("s1", T0 + 200)]
    first = shop(msgs, [hand(T0 + 300, session="s2")], ends=ends)
    anyb = shop(msgs, [hand(T0 + 300, session="s2")], ends=ends, basis="any")
    assert (first.missed, first.never_reached, first.per_session.met) == (1, 1, 1)
    assert (anyb.missed, anyb.never_reached) == (1, 1)
    assert (first.never_reached_sessions, first.per_session.total) == (1, 2)


def test_K02_K07_a_late_switch_does_not_turn_a_missed_buyer_into_a_met_one() -> None:
    """A buyer nobody answered (not even the bot) for T is missed; a switch to human
    service recorded after that does not move their clock, so the unit that read
    MISSED before the switch stays MISSED (K07), whoever answers afterwards."""
    msgs = [buyer(T0), agent(T0 + 210)]
    hands, reqs = [hand(T0 + 201)], [switch(T0 + 200)]
    before = shop(msgs, hands, requests=reqs, as_of=T0 + 190)
    assert (before.missed, before.pending) == (1, 0)
    after = shop(msgs, hands, requests=reqs, detail=True)
    assert (after.met, after.missed, after.units[0].start) == (0, 1, T0)
    # A switch within T of the buyer's message still starts the clock ...
    early = shop(msgs, hands, requests=[switch(T0 + 100)], detail=True)
    assert (early.met, early.units[0].start) == (1, T0 + 100)
    # ... and so does a late one after the bot took the session by writing in time.
    bot = [*msgs, other(T0 + 100, Sender.BOT)]
    taken = shop(bot, hands, requests=reqs, detail=True)
    assert (taken.met, taken.units[0].start) == (1, T0 + 200)
    assert shop(bot, hands, requests=reqs, as_of=T0 + 190).total == 0  # the bot's then
    # The bot wrote in time, but an agent had taken the session before the switch: the
    # buyer was missed from their first message, and stays missed.
    taken_first = [buyer(T0), other(T0 + 100, Sender.BOT), agent(T0 + 310)]
    for handed in (T0 + 50, T0 + 250):
        for as_of in (T0 + 299, T0 + 305, None):
            r = shop(taken_first, [hand(handed)], requests=[switch(T0 + 300)], as_of=as_of)
            assert (r.met, r.missed) == (0, 1), (handed, as_of)
    # A human answer within T before a late switch keeps it met.
    answered = [buyer(T0), agent(T0 + 60), buyer(T0 + 250), agent(T0 + 260)]
    kept = shop(answered, hands, requests=[switch(T0 + 240)], detail=True)
    assert (kept.met, kept.missed, kept.units[0].start) == (1, 0, T0)


def test_K02_a_session_still_with_the_bot_is_not_waiting() -> None:
    r = shop([buyer(T0), other(T0 + 1, Sender.BOT)], [], as_of=T0 + 60)
    assert (r.total, r.waiting) == (0, 0)


# K03 -------------------------------------------------------------------------------------


def test_K03_source_004_real_time_example_pending_then_met_never_zero() -> None:
    t1 = at(10, 0, 1)
    msgs = [buyer(t1), agent(at(10, 0, 5))]
    hands = [hand(t1)]
    early = shop(msgs, hands, as_of=at(10, 0, 3))
    assert (early.met, early.missed, early.pending) == (0, 0, 1)
    assert early.rate is None  # not 0 %
    assert (early.lower, early.upper) == (0.0, 1.0)
    later = shop(msgs, hands, as_of=at(10, 1, 5))
    assert (later.met, later.pending, later.rate) == (1, 0, 1.0)


def test_K07_source_004_workbench_agent_rate_is_pending_at_second_3_never_zero() -> None:
    # Source 004: the agent workbench's real-time rate showed 0 % at second 3 for a
    # buyer who wrote at second 1 and was answered at second 5. Here it is pending.
    t1 = at(10, 0, 1)
    msgs = [buyer(t1), agent(at(10, 0, 5))]
    hands = [hand(t1)]
    early = agents(msgs, hands, as_of=at(10, 0, 3))["alice"]
    assert (early.met, early.missed, early.pending, early.at_risk) == (0, 0, 1, 0)
    assert (early.rate, early.lower, early.upper) == (None, 0.0, 1.0)
    later = agents(msgs, hands, as_of=at(10, 1, 5))["alice"]  # second 65
    assert (later.met, later.pending, later.rate) == (1, 0, 1.0)
    rep = kpi.daily_report(msgs, hands, day=DAY, as_of=at(10, 0, 3))
    assert (rep.shop.pending, rep.shop.rate, rep.agents_total.pending) == (1, None, 1)
    assert rep.response_times.unanswered == 1


def test_K03_first_and_any_bases_differ_on_a_late_second_question() -> None:
    msgs = [buyer(T0), agent(T0 + 60), buyer(at(11)), agent(at(11, 5))]
    first = shop(msgs, [hand(T0)])
    anyb = shop(msgs, [hand(T0)], basis="any")
    assert (first.met, first.missed, first.basis) == (1, 0, "first")
    assert (anyb.met, anyb.missed, anyb.basis) == (0, 1, "any")


def test_K03_counts_a_buyer_once_per_day_and_sessions_separately() -> None:
    msgs = [buyer(T0, "s1"), agent(T0 + 60, "s1"),
            buyer(at(12), "s2"), agent(at(12, 10), "s2"),
            buyer(at(13), "s3", who="b2"), agent(at(13, 1), "s3", who="b2")]
    hands = [hand(T0, session="s1"), hand(at(12), session="s2"),
             hand(at(13), session="s3", who="b2")]
    r = shop(msgs, hands)
    assert (r.met, r.missed, r.denominator, r.rate) == (2, 0, 2, 1.0)
    s = r.per_session
    assert (s.met, s.missed, s.rate) == (2, 1, 2 / 3)
    assert shop(msgs, hands, basis="any").missed == 1


def test_K03_numerator_and_denominator_follow_the_source_formula() -> None:
    # (reached a human - not answered within 3 min) / reached a human = (4 - 1) / 4
    msgs, hands = [], []
    for n, delay in enumerate([10, 100, 180, 500]):
        t = at(9 + n)
        msgs += [buyer(t, f"s{n}", f"b{n}"), agent(t + delay, f"s{n}", f"b{n}")]
        hands.append(hand(t, session=f"s{n}", who=f"b{n}"))
    r = shop(msgs, hands)
    assert (r.numerator, r.denominator, r.rate) == (3, 4, 0.75)


# K04 -------------------------------------------------------------------------------------


def test_K04_transfer_at_two_minutes_is_no_unit_for_the_first_agent() -> None:
    msgs = [buyer(T0), agent(T0 + 210, name="bob")]
    hands = [hand(T0, "alice"), hand(T0 + 120, "bob")]
    rates = agents(msgs, hands)
    assert "alice" not in rates
    assert (rates["bob"].met, rates["bob"].missed) == (1, 0)  # 90 s after it reached bob
    assert shop(msgs, hands).missed == 1  # the shop clock kept running: 210 s


def test_K04_transfer_at_four_minutes_is_missed_by_the_first_agent() -> None:
    msgs = [buyer(T0), agent(T0 + 300, name="bob")]
    hands = [hand(T0, "alice"), hand(T0 + 240, "bob")]
    rates = agents(msgs, hands)
    assert (rates["alice"].met, rates["alice"].missed) == (0, 1)
    assert (rates["bob"].met, rates["bob"].missed) == (1, 0)


def test_K04_pool_time_is_not_the_agents() -> None:
    msgs = [buyer(T0), agent(T0 + 360)]
    rates = agents(msgs, [hand(T0 + 300)])
    assert rates["alice"].met == 1
    assert shop(msgs, [hand(T0 + 300)]).missed == 1


def test_K04_clock_starts_at_first_unanswered_message_after_hand_over() -> None:
    # Alice takes a quiet session; the buyer writes 10 minutes later, answered in 2.
    msgs = [buyer(T0), agent(T0 + 30), buyer(T0 + 600), agent(T0 + 720)]
    hands = [hand(T0 + 60, "alice")]
    r = agents(msgs, hands, detail=True)["alice"]
    assert (r.met, r.total) == (1, 1)
    assert r.units[0].start == T0 + 600


def test_K04_release_ends_the_stretch() -> None:
    msgs = [buyer(T0), agent(T0 + 400, name="bob")]
    cut = agents(msgs, [hand(T0, "alice"), hand(T0 + 350, "bob")],
                 releases=[release(T0 + 100, "alice")])
    assert "alice" not in cut and cut["bob"].met == 1
    held = agents(msgs, [hand(T0, "alice")], releases=[release(T0 + 200, "alice")])
    assert held["alice"].missed == 1


def test_K04_a_reply_at_the_instant_the_agent_closes_belongs_to_the_stretch() -> None:
    # The agent answers and closes in the same second (a close-delay of zero).
    msgs = [buyer(T0), agent(T0 + 30)]
    r = agents(msgs, [hand(T0)], releases=[release(T0 + 30)], detail=True)
    assert (r["alice"].met, r["alice"].missed, r["alice"].total) == (1, 0, 1)
    assert r["alice"].units[0].end == T0 + 30
    times = kpi.response_times(msgs, [hand(T0)], releases=[release(T0 + 30)], day=DAY)
    assert times.by_agent["alice"].first.calendar.mean == 30.0
    # A reply just after the close is not the agent's: the stretch ended unanswered.
    cut = agents([buyer(T0), agent(T0 + 30.5)], [hand(T0)], releases=[release(T0 + 30)])
    assert "alice" not in cut  # no unit at all


def test_K04_a_reply_at_the_instant_of_a_transfer_is_the_first_agents_not_the_seconds() -> None:
    msgs = [buyer(T0), agent(T0 + 40), buyer(T0 + 100), agent(T0 + 150, name="bob")]
    hands = [hand(T0), hand(T0 + 40, "bob")]
    r = agents(msgs, hands, detail=True)
    assert (r["alice"].met, r["alice"].total) == (1, 1)
    # bob's first unit is the next buyer message, answered 50 s later.
    assert (r["bob"].met, r["bob"].total) == (1, 1)
    assert r["bob"].units[0].start == T0 + 100


def test_K04_a_reply_at_the_instant_of_a_first_hand_over_is_that_agents() -> None:
    # Taken from the pool and answered in the same second: met in 0 s.
    r = agents([buyer(T0), agent(T0 + 100)], [hand(T0 + 100)], detail=True)
    assert (r["alice"].met, r["alice"].units[0].start, r["alice"].units[0].end) == (
        1, T0 + 100, T0 + 100)


# K06 -------------------------------------------------------------------------------------


def test_K06_retroactively_excluded_buyer_is_removed_from_every_figure() -> None:
    msgs = [buyer(T0, "s1", "good"), agent(T0 + 10, "s1", "good"),
            buyer(T0, "s2", "bad"), agent(T0 + 900, "s2", "bad")]
    hands = [hand(T0, session="s1", who="good"), hand(T0, session="s2", who="bad")]
    before = shop(msgs, hands)
    assert (before.met, before.missed, before.rate) == (1, 1, 0.5)
    after = shop(msgs, hands, excluded_buyers={"bad"})
    assert (after.met, after.missed, after.excluded, after.rate) == (1, 0, 1, 1.0)
    assert after.excluded_by == {"malicious": 1}
    assert after.per_session.excluded == 1
    past = shop(msgs, hands, as_of=T0 + 200, excluded_buyers=[Exclusion("bad", "fraud")])
    assert (past.excluded, past.excluded_by, past.rate) == (1, {"fraud": 1}, 1.0)
    rates = agents(msgs, hands, excluded_buyers={"bad": "malicious"})
    assert (rates["alice"].met, rates["alice"].missed, rates["alice"].excluded) == (1, 0, 1)


# K07 -------------------------------------------------------------------------------------


def test_K07_pending_then_at_risk_then_missed() -> None:
    msgs = [buyer(T0)]
    hands = [hand(T0)]
    fresh = shop(msgs, hands, as_of=T0 + 50)
    risky = shop(msgs, hands, as_of=T0 + 150)
    gone = shop(msgs, hands, as_of=T0 + 181)
    assert (fresh.pending, fresh.at_risk) == (1, 0)
    assert (risky.pending, risky.at_risk) == (1, 1)
    assert (gone.pending, gone.missed, gone.at_risk, gone.rate) == (0, 1, 0, 0.0)
    assert shop(msgs, hands, as_of=T0 + 60, warn_after=30).at_risk == 1


def test_K07_bounds_and_counts_add_up() -> None:
    msgs, hands = [], []
    for n, delay in enumerate([10, None, 500, None]):
        t = T0 + n
        msgs.append(buyer(t, f"s{n}", f"b{n}"))
        if delay is not None:
            msgs.append(agent(t + delay, f"s{n}", f"b{n}"))
        hands.append(hand(t, session=f"s{n}", who=f"b{n}"))
    r = shop(msgs, hands, as_of=T0 + 100, detail=True)
    # b0 met at +10; b2 pending (no reply yet at +100), b1 and b3 pending.
    assert (r.met, r.missed, r.pending) == (1, 0, 3)
    assert (r.rate, r.lower, r.upper) == (1.0, 0.25, 1.0)
    assert r.met + r.missed + r.pending + r.excluded == r.total == len(r.units)
    assert [u.status for u in r.units].count(Status.PENDING) == 3


def test_K07_rate_over_nothing_is_none() -> None:
    r = shop([], [])
    assert (r.total, r.rate, r.lower, r.upper) == (0, None, None, None)


# K09 -------------------------------------------------------------------------------------


def test_K09_breakdowns_by_day_group_and_agent() -> None:
    d2 = DAY + dt.timedelta(days=1)
    msgs = [buyer(T0, "s1", "b1"), agent(T0 + 10, "s1", "b1"),
            buyer(at(10, day=d2), "s2", "b1"), agent(at(10, 5, day=d2), "s2", "b1", "bob"),
            buyer(T0, "s3", "b3"), agent(T0 + 500, "s3", "b3", "bob")]
    hands = [hand(T0, "alice", "s1", "b1", "presale"),
             hand(at(10, day=d2), "bob", "s2", "b1", "aftersale"),
             hand(T0, "bob", "s3", "b3", "presale")]
    r = kpi.shop_reply_rate(msgs, hands, day=[DAY, d2])
    assert (r.met, r.missed) == (1, 2)
    assert {d: (x.met, x.missed) for d, x in r.by_day.items()} == {DAY: (1, 1), d2: (0, 1)}
    assert {g: (x.met, x.missed) for g, x in r.by_group.items()} == {
        "aftersale": (0, 1), "presale": (1, 1)}
    only_first = kpi.shop_reply_rate(msgs, hands, day=DAY)
    assert only_first.total == 2
    everything = kpi.shop_reply_rate(msgs, hands)  # day=None: every day in the records
    assert set(everything.by_day) == {DAY, d2}
    rates = kpi.agent_reply_rates(msgs, hands, day=[DAY, d2])
    assert sorted(rates) == ["alice", "bob"]
    assert {d: x.missed for d, x in rates["bob"].by_day.items()} == {DAY: 1, d2: 1}
    assert set(rates["bob"].by_group) == {"presale", "aftersale"}


@pytest.mark.parametrize("basis", ["first", "any"])
def test_K09_numerator_and_denominator_sum_over_breakdowns(basis: str) -> None:
    msgs, hands = [], []
    for n in range(6):
        t = T0 + 100 * n
        msgs += [buyer(t, f"s{n}", f"b{n}"), agent(t + 60 * n, f"s{n}", f"b{n}")]
        hands.append(hand(t, "alice" if n % 2 else "bob", f"s{n}", f"b{n}", f"g{n % 3}"))
    r = shop(msgs, hands, basis=basis)
    assert sum(x.numerator for x in r.by_group.values()) == r.numerator == 4
    assert sum(x.denominator for x in r.by_group.values()) == r.denominator == 6
