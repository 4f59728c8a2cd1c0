"""The discrete-event driver: determinism, and each behaviour of the workload model.

Every check reads the Assigner's own events (or the KPI records built from
them), so these tests pin what the simulated backend did, not only the
driver's bookkeeping.
"""

from __future__ import annotations

import itertools
import math

import attrs
import numpy as np
import pytest
from sim_helpers import MORNING, config, mm1_workload, with_seed

from kefu import kpi
from kefu.events import Assigned, Closed, CloseReason, Opened, Queued, Reassigned, Requeued
from kefu.kpi import Sender
from kefu.sim import Dist, Profile, SimConfigError, SimResult, measure, parse_shifts, simulate
from kefu.sim.report import day_records


def run(cfg: object, engine: str = "py") -> SimResult:
    return simulate(cfg, engine=engine)  # type: ignore[arg-type]


def minute_of(r: SimResult, t: float) -> float:
    return (t - r.t0) / 60


def test_same_seed_same_day_different_seed_different_day() -> None:
    cfg = config(per_minute=6, agents=2, workload={"bot_share": 0.3, "rate_share": 0.5})
    a, b = run(cfg), run(cfg)
    assert a.events == b.events
    assert a.messages == b.messages
    assert a.evaluations == b.evaluations and a.requests == b.requests
    assert measure(a).to_json() | {"timing": None} == measure(b).to_json() | {"timing": None}
    c = run(with_seed(cfg, 2))
    assert c.events != a.events


def test_engines_simulate_the_same_day() -> None:
    """R23: the compiled and the reference engine give the same events, so the same day."""
    from kefu.assigner import ENGINES

    if "c" not in ENGINES:
        pytest.skip("compiled engine not built")
    cfg = config(per_minute=8, agents=2, cap=5)
    assert run(cfg, "c").events == run(cfg, "py").events


def test_staffing_does_not_change_the_buyers() -> None:
    """Common random numbers: the same arrivals and scripts whatever the staffing tried."""
    few, many = run(config(agents=1, cap=3)), run(config(agents=6, cap=3))
    opened = [(e.session_id, e.at) for e in few.events if isinstance(e, Opened)]
    assert opened == [(e.session_id, e.at) for e in many.events if isinstance(e, Opened)]
    assert few.abandoned > many.abandoned


def test_every_session_ends_and_the_assigner_agrees() -> None:
    r = run(config(per_minute=5, agents=2))
    opened = {e.session_id for e in r.events if isinstance(e, Opened)}
    closed = [e for e in r.events if isinstance(e, Closed)]
    assert len(opened) == r.sessions == len(closed) + r.unserved and r.unserved == 0
    assert r.agent_closed + r.auto_closed + r.abandoned == len(closed)
    assert sum(1 for e in closed if e.reason is CloseReason.AUTO) == r.auto_closed


def test_messages_alternate_buyer_then_agent_and_name_the_agent() -> None:
    r = run(config(per_minute=3, agents=2, workload={"bot_share": 0.0}))
    holder: dict[str, str] = {}
    for e in r.events:
        if isinstance(e, Assigned):
            holder[e.session_id] = e.agent_id
    for m in r.messages:
        if m.sender is Sender.AGENT:
            assert m.agent_id == holder[m.session_id]
    by_session: dict[str, list[kpi.Message]] = {}
    for m in r.messages:
        by_session.setdefault(m.session_id, []).append(m)
    for msgs in by_session.values():
        senders = [m.sender for m in sorted(msgs, key=lambda m: m.at)]
        # the first question is the open itself (from_events adds it); then answer, question ...
        assert senders[0] is Sender.AGENT
        assert all(x is not y for x, y in itertools.pairwise(senders))


def test_message_columns_recount_row_by_row() -> None:
    """The driver's message columns (times and sender codes as numpy arrays, ids as
    lists), read back row by row: the ids pair up, only agents' rows name an agent,
    each session's rows run forward in time, and no session gets more answers than
    questions (the opening counts as one)."""
    r = run(config(per_minute=3, agents=2, workload={"bot_share": 0.3}))
    cols = r.message_columns
    n = len(cols["at"])
    assert n > 100
    assert cols["at"].dtype == np.float64 and cols["sender"].dtype == np.int8
    assert all(len(c) == n for c in cols.values())
    codes = {kpi.SENDER_CODES[x]: x for x in (Sender.BUYER, Sender.AGENT, Sender.BOT)}
    last: dict[str, float] = {}
    said: dict[str, int] = {}
    answered: dict[str, int] = {}
    for k in range(n):
        sid, sender, at = cols["session_id"][k], codes[int(cols["sender"][k])], cols["at"][k]
        assert cols["message_id"][k] == f"m{k}"
        assert cols["buyer_id"][k] == "b" + sid[1:]
        assert (cols["agent_id"][k] is not None) == (sender is Sender.AGENT)
        assert at >= last.get(sid, -math.inf)
        last[sid] = at
        if sender is Sender.AGENT:
            answered[sid] = answered.get(sid, 0) + 1
        elif sender is Sender.BUYER:
            said[sid] = said.get(sid, 0) + 1
    assert answered and all(a <= said.get(sid, 0) + 1 for sid, a in answered.items())
    assert [m.at for m in r.messages] == cols["at"].tolist()


def test_buyers_give_up_in_the_queue_after_their_patience() -> None:
    cfg = config(per_minute=6, agents=1, cap=1,
                 workload=mm1_workload(patience=Dist.const(90), close_delay=Dist.const(300)))
    r = run(cfg)
    assert r.abandoned > 0
    opened = {e.session_id: e.at for e in r.events if isinstance(e, Opened)}
    gave_up = [e for e in r.events if isinstance(e, Closed) and e.agent_id is None]
    assert len(gave_up) == r.abandoned
    for e in gave_up:
        assert e.pool is not None and e.reason is CloseReason.MANUAL
        assert e.at - opened[e.session_id] == pytest.approx(90)
    assert sum(r.log.abandoned) == r.abandoned
    # K02: a buyer who gave up before reaching an agent is a missed unit.
    rep = measure(r)
    shop = rep.daily.shop
    assert (shop.never_reached_sessions, shop.still_waiting, shop.waiting) == (r.abandoned, 0, 0)
    assert shop.per_session.missed >= r.abandoned
    assert sum(h.abandoned for h in rep.hours) == r.abandoned


def test_patient_buyers_never_give_up() -> None:
    r = run(config(per_minute=6, agents=1, cap=1,
                   workload=mm1_workload(close_delay=Dist.const(300))))
    assert r.abandoned == 0 and r.max_queue > 100


def test_reply_delay_grows_with_the_agents_load() -> None:
    def first_response(slowdown: float) -> float:
        r = run(config(per_minute=8, agents=1, cap=200,
                       workload={"load_slowdown": slowdown, "bot_share": 0.0}))
        rt = measure(r).daily.response_times.replies.calendar
        assert rt.mean is not None
        return rt.mean

    assert first_response(0.1) > 2 * first_response(0.0)


def test_bot_answers_first_then_hands_over() -> None:
    r = run(config(per_minute=4, workload={"bot_share": 1.0, "bot_time": Dist.const(30)}))
    opened = {e.session_id: e.at for e in r.events if isinstance(e, Opened)}
    assert len(r.requests) == len(opened) == r.sessions
    first_buyer = {m.session_id: m.at for m in sorted(r.messages, key=lambda m: -m.at)
                   if m.sender is Sender.BUYER}
    for req in r.requests:
        assert opened[req.session_id] == req.at  # 转人工 opens the session in the Assigner
        assert req.at - first_buyer[req.session_id] == pytest.approx(31)  # bot reply + 30 s
    assert any(m.sender is Sender.BOT for m in r.messages)


def test_bot_only_buyers_never_reach_the_assigner() -> None:
    r = run(config(per_minute=4, workload={"bot_share": 1.0, "bot_resolve": 1.0}))
    assert r.sessions == 0 and r.bot_only == r.arrivals > 0
    assert measure(r).daily.shop.rate is None  # nobody reached human service: no units


def test_first_response_timeout_reassigns_slow_agents() -> None:
    cfg = config(per_minute=2, agents=3, cap=50, first_response_timeout=60.0,
                 workload={"reply_delay": Dist.const(90), "load_slowdown": 0.0})
    r = run(cfg)
    moved = [e for e in r.events if isinstance(e, Reassigned)]
    assert moved and len(moved) >= r.sessions // 2


def test_shifts_take_agents_on_and_off_line() -> None:
    """a01 works 08:00-08:30, a02 08:30-24:00: hand-overs follow the plan."""
    cfg = config(per_minute=4, agents=2, shifts=parse_shifts("08:00-08:30,08:30-24:00"))
    r = run(cfg)
    for e in r.events:
        if isinstance(e, Assigned):
            m = minute_of(r, e.at)
            assert (e.agent_id == "a01") == (m < MORNING + 30), (e, m)
    # "finish": a01 keeps answering its open sessions after 08:30, takes no new ones
    late = [m for m in r.messages if m.agent_id == "a01" and minute_of(r, m.at) > MORNING + 30]
    assert late
    assert not any(isinstance(e, Requeued) for e in r.events)


def test_shift_end_with_requeue_hands_sessions_over() -> None:
    cfg = config(per_minute=4, agents=2, shifts=parse_shifts("08:00-08:30,08:30-24:00"),
                 handoff="requeue")
    r = run(cfg)
    requeued = [e for e in r.events if isinstance(e, Requeued)]
    assert requeued and all(minute_of(r, e.at) == MORNING + 30 for e in requeued)
    assert not [m for m in r.messages
                if m.agent_id == "a01" and minute_of(r, m.at) > MORNING + 30]


def test_nobody_on_line_queues_in_the_offline_pool_or_diverts() -> None:
    """Arrivals 07:00-08:00 while the only shift starts at 08:00."""
    base = config(agents=1, cap=None, shifts=parse_shifts("08:00-24:00"),
                  workload={"patience": None})
    wl = attrs.evolve(base.workload, profile=Profile("early", (0.0,) * 420 + (2.0,) * 60))
    waiting = run(attrs.evolve(base, workload=wl))
    queued = [e for e in waiting.events if isinstance(e, Queued)]
    assert queued and all(e.pool.value == "offline" for e in queued)
    diverted = run(attrs.evolve(base, workload=wl, shop=attrs.evolve(
        base.shop, offline_diversion=True)))
    assert not any(isinstance(e, Queued) for e in diverted.events)
    # the off-line agent answers only once the shift starts
    first_answer = min(m.at for m in diverted.messages if m.sender is Sender.AGENT)
    assert minute_of(diverted, first_answer) >= MORNING


def test_skill_groups_route_to_their_own_agents() -> None:
    cfg = config(per_minute=6, agents=4, workload={"groups": (("presale", 3.0),
                                                              ("aftersale", 1.0))})
    r = run(cfg)
    group = {e.session_id: e.group for e in r.events if isinstance(e, Opened)}
    for e in r.events:
        if isinstance(e, Assigned):
            assert e.agent_id.startswith(group[e.session_id] or "?")
    share = sum(g == "presale" for g in group.values()) / len(group)
    assert 0.6 < share < 0.9


def test_series_add_up_to_the_day() -> None:
    r = run(config(per_minute=5, agents=1, cap=5))
    s = r.series
    assert sum(s.arrivals) == r.arrivals and sum(s.opened) == r.sessions
    assert max(s.max_concurrent) == r.peak_concurrent and max(s.max_queue) == r.max_queue
    waits = [w for w in r.log.wait if not math.isnan(w)]
    assert sum(s.waits) == pytest.approx(sum(waits))
    assert sum(s.queue_area) == pytest.approx(sum(waits), rel=1e-6)  # Little: area = total wait


def test_groups_need_an_agent_each() -> None:
    with pytest.raises(SimConfigError, match="cannot cover"):
        config(agents=1, workload={"groups": (("a", 1.0), ("b", 1.0))})


def test_the_report_is_kefu_kpi_on_the_days_records() -> None:
    """K11: the simulated day is measured by from_events + the KPI functions, nothing else."""
    from kefu.sim import reply_rate

    r = run(config(per_minute=6, agents=1, cap=6, workload={"bot_share": 0.3}))
    rep = measure(r)
    recs = kpi.from_events(r.events, r.messages)
    direct = kpi.shop_reply_rate(recs.messages, recs.handovers, requests=r.requests,
                                 day=r.config.day, tz=r.config.tz)
    assert (rep.daily.shop.met, rep.daily.shop.missed) == (direct.met, direct.missed)
    assert direct.missed > 0 and rep.shop_reply_rate == direct.rate == reply_rate(r)
    agents = kpi.agent_reply_rates(recs.messages, recs.handovers, requests=r.requests,
                                   releases=recs.releases, day=r.config.day, tz=r.config.tz)
    assert {a.agent_id: a.rate for a in rep.agents} == {a: x.rate for a, x in agents.items()}
    assert sum(h.met for h in rep.hours) == direct.met
    assert sum(h.missed for h in rep.hours) == direct.missed


ROUTED = {"first_response_timeout": 30.0, "handoff": "requeue",
          "shifts": parse_shifts("08:00-08:30,08:20-24:00@2")}


@pytest.mark.parametrize("case", ["plain", "zero_delays", "moves"])
def test_K11_day_records_are_from_events_with_the_messages_as_columns(case: str) -> None:
    """K11: the records the driver makes as the events come equal
    ``from_events(events, messages)``, row for row.

    With zero reply and think times a buyer writes at the very instant the
    session opened: then from_events keeps the buyer's message, not an opening.
    "moves" reassigns on a first-response timeout and requeues at a shift's end, in groups.
    """
    wl: dict[str, object] = {"bot_share": 0.3}
    shop: dict[str, object] = {}
    if case == "zero_delays":
        wl |= {"reply_delay": Dist.const(0), "buyer_gap": Dist.const(0), "load_slowdown": 0.0}
    if case == "moves":
        wl |= {"reply_delay": Dist.exp(40), "groups": (("presale", 1.0), ("aftersale", 1.0))}
        shop = ROUTED
    r = run(config(per_minute=3, agents=4, cap=10, workload=wl, **shop))
    table, recs = day_records(r)
    direct = kpi.from_events(r.events, r.messages)
    assert table.to_records() == list(direct.messages)
    assert (recs.handovers, recs.releases, recs.ends) == (
        direct.handovers, direct.releases, direct.ends)
    said_at_open = {(m.session_id, m.at) for m in r.messages if m.sender is Sender.BUYER} & {
        (e.session_id, e.at) for e in r.events if isinstance(e, Opened)}
    assert bool(said_at_open) == (case == "zero_delays")
    moved = {type(e) for e in r.events} & {Reassigned, Requeued}
    assert moved == ({Reassigned, Requeued} if case == "moves" else set())
