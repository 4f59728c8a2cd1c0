"""Random operation sequences against the rules (R06, R07, R22) and the naive model.

The machine drives the engine under test and the naive reference model
(``kefu._engine_naive``: scans everything, written independently from
docs/semantics.md) with the same commands on one manual clock, and checks
after every step:

* equal events, equal error types and messages, equal snapshots (R23-style
  lockstep against the model);
* a rejected call changes nothing (R22);
* the event stream alone accounts for the state: a ledger built only from
  events gives every session's place and every agent's load (R21, R22);
* every event names its session's buyer and survives ``to_dict`` ->
  ``from_dict`` unchanged (S03);
* automatic assignment never goes to a suspended, full or away agent (R01, R02,
  R27), and away agents are exactly those the commands made away;
* R06 from public views: no waiting session has an eligible agent;
* R07: waiting() is ordered by (priority desc, arrival asc);
* R25: position() is each waiting session's place in its group's line (from
  waiting() and the session views), None for an assigned one, on every engine;
  estimated_wait() is the same on every engine (restored together);
* snapshot -> JSON -> restore (also across engines) at random points, after
  which the restored Assigner carries on in lockstep (R22).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from conftest import require_engine
from kefu import Assigner, Cap, LadderStep, ManualClock, QueueLimit, Strategy
from kefu.assigner import ENGINES
from kefu.errors import KefuError
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    Escalated,
    Event,
    Opened,
    Overflowed,
    Queued,
    Reassigned,
    Rejected,
    Requeued,
    ResponseTimedOut,
    Transferred,
    from_dict,
)
from kefu.explain import Reason
from kefu.model import AgentView, CapKind, SessionView

AGENTS = ["A", "B", "C", "D", "E"]
SESSIONS = [f"s{i}" for i in range(14)]
BUYERS = ["b1", "b2", "b3", "b4"]
GROUPS = [None, "pre", "post"]
#: R26: session kinds the commands use ("ghost" is never configured: UnknownKind).
KINDS = [None, None, "chat", "dispute", "heavy", "ghost"]
caps = st.sampled_from([Cap.UNLIMITED, Cap.SUSPENDED, Cap.limit(1), Cap.limit(2), Cap.limit(3)])
group_sets = st.sampled_from([None, None, frozenset({"pre"}), frozenset({"post"}),
                              frozenset({"pre", "post"}), frozenset()])
configs = st.fixed_dictionaries({
    "strategy": st.sampled_from(list(Strategy)),
    "offline_diversion": st.booleans(),
    "auto_close_after": st.sampled_from([None, 60.0, 1200.0]),
    "first_response_timeout": st.sampled_from([None, 30.0, 90.0]),
    "sticky_window": st.sampled_from([None, 300.0]),
    # R28: no limits (today's shop), a count limit overflowing, a chain ending in refusal,
    # an oldest-wait limit.
    "queue_limits": st.sampled_from([
        None, None,
        {"pre": QueueLimit(max_waiting=1, overflow="post")},
        {"pre": QueueLimit(max_waiting=0, overflow="post"), "post": QueueLimit(max_waiting=2)},
        {"post": QueueLimit(max_wait=60.0, overflow="pre"), "pre": QueueLimit(max_waiting=3)},
        {"pre": QueueLimit(max_waiting=2, max_wait=30.0)},
    ]),
    # R24: no ladder (today's shop), one step, two steps ending with every agent, a step
    # naming a group nobody serves, ladders on both groups.
    "ladders": st.sampled_from([
        None, None,
        {"pre": [LadderStep(30.0, {"post"})]},
        {"pre": [LadderStep(60.0, {"post"}), LadderStep(90.0, None)]},
        {"post": [LadderStep(29.0, {"vip"}), LadderStep(61.0, {"pre", "other"})],
         "pre": [LadderStep(1.0, None)]},
    ]),
    # R26: no kinds (today's shop), weight 1 only, a dispute of 2, three weights.
    "session_kinds": st.sampled_from([
        None, None,
        {"chat": 1},
        {"chat": 1, "dispute": 2},
        {"chat": 1, "dispute": 2, "heavy": 3},
        {"dispute": 3, "heavy": 2},
    ]),
})


class Ledger:
    """Where every session is and how loaded every agent is, from events alone."""

    def __init__(self, kinds: dict[str, int] | None = None) -> None:
        self.kinds = kinds or {}  # R26: kind -> weight
        self.weight: dict[str, int] = {}  # open session -> its weight, from Opened
        self.place: dict[str, str] = {}  # session -> agent id, or "pool:<name>", or "limbo"
        self.load: dict[str, int] = defaultdict(int)
        self.timed_out: dict[str, set[str]] = defaultdict(set)
        self.buyer: dict[str, str | None] = {}  # open session -> its buyer, from Opened
        self.away: set[str] = set()  # agents made away by a command (R27), from commands
        self.steps: dict[str, int] = {}  # R24: ladder steps reached in the current wait

    def _move(self, sid: str, to: str) -> None:
        self.steps.pop(sid, None)  # R24: a wait ends or starts: its ladder starts over
        old = self.place.get(sid)
        if old is not None and not old.startswith(("pool:", "limbo")):
            self.load[old] -= self.weight[sid]
        self.place[sid] = to
        if not to.startswith(("pool:", "limbo")):
            self.load[to] += self.weight[sid]

    def apply(self, e: Event, caps: dict[str, Cap]) -> None:
        assert from_dict(e.to_dict()) == e, f"S03: {e} does not round-trip"
        if isinstance(e, Opened):
            assert e.session_id not in self.place, f"{e.session_id} opened twice"
            self.place[e.session_id] = "limbo"
            self.buyer[e.session_id] = e.buyer_id
            kind = e.session_kind
            self.weight[e.session_id] = 1 if kind is None else self.kinds[kind]
            return
        assert e.buyer_id == self.buyer[e.session_id], f"S03: {e} names the wrong buyer"
        if isinstance(e, (Assigned, Reassigned)):
            agent = e.agent_id if isinstance(e, Assigned) else e.to_agent
            if not (isinstance(e, Assigned) and e.reason is AssignReason.MANUAL):
                cap = caps[agent]
                assert cap.kind is not CapKind.SUSPENDED, f"automatic to suspended {agent}"
                if cap.kind is CapKind.LIMIT:
                    assert cap.value is not None
                    # R26: the session's weight fits the room under the cap.
                    assert self.load[agent] + self.weight[e.session_id] <= cap.value, (
                        f"automatic assignment over cap: {e}")
                assert agent not in self.timed_out[e.session_id], f"back to a timed-out agent: {e}"
                assert agent not in self.away, f"R27: automatic assignment to away {agent}: {e}"
            self._move(e.session_id, agent)
        elif isinstance(e, Transferred):
            assert self.place[e.session_id] == e.from_agent
            self._move(e.session_id, e.to_agent)
        elif isinstance(e, Queued):
            assert self.place[e.session_id] == "limbo", f"queued from {self.place[e.session_id]}"
            self._move(e.session_id, "pool:" + e.pool.value)
        elif isinstance(e, Escalated):  # R24: a waiting session reaches a ladder step
            assert self.place[e.session_id].startswith("pool:"), f"escalated, not waiting: {e}"
            self.steps[e.session_id] = e.step
        elif isinstance(e, Overflowed):  # R28: a new session, still looking for its place
            assert self.place[e.session_id] == "limbo", f"overflow of a placed session: {e}"
        elif isinstance(e, Rejected):  # R28: refused, not open afterwards
            assert self.place[e.session_id] == "limbo", f"rejected a placed session: {e}"
            del self.place[e.session_id]
            del self.buyer[e.session_id]
        elif isinstance(e, Requeued):
            assert self.place[e.session_id] == e.agent_id
            self._move(e.session_id, "limbo")
        elif isinstance(e, ResponseTimedOut):
            assert self.place[e.session_id] == e.agent_id
            self.timed_out[e.session_id].add(e.agent_id)
        elif isinstance(e, Closed):
            expected = e.agent_id if e.agent_id is not None else f"pool:{e.pool.value}"  # type: ignore[union-attr]
            assert self.place[e.session_id] == expected, (e, self.place[e.session_id])
            self._move(e.session_id, "limbo")
            del self.place[e.session_id]
            del self.buyer[e.session_id]
            self.timed_out.pop(e.session_id, None)

    def forget_agent(self, agent_id: str) -> None:
        self.load.pop(agent_id, None)
        self.away.discard(agent_id)


class LockstepMachine(RuleBasedStateMachine):
    """Subject engine vs the naive model, plus event-ledger invariants."""

    engine_name = "py"
    reference_names: tuple[str, ...] = ("naive",)

    @initialize(
        config=configs,
        agents=st.lists(st.tuples(st.sampled_from(AGENTS), caps, group_sets, st.integers(0, 3),
                                  st.booleans()), min_size=1, max_size=5),
        sessions=st.lists(st.tuples(st.sampled_from([None, *BUYERS]), st.sampled_from(GROUPS),
                                    st.integers(0, 2), st.sampled_from(KINDS)), max_size=8),
    )
    def setup(self, config: dict[str, Any], agents: list[Any], sessions: list[Any]) -> None:
        """Start from a random shop with agents and sessions, so short runs reach rich states."""
        self.config = config
        self.clock = ManualClock(0.0)
        self.subject = Assigner(self.clock, engine=self.engine_name, **config)
        self.references = [Assigner(self.clock, engine=name, **config)  # type: ignore[arg-type]
                           for name in self.reference_names]
        self.model = self.references[-1]
        self.ledger = Ledger(config["session_kinds"])
        self.restored_alone = False
        self.caps: dict[str, Cap] = {}
        self.arrival: dict[str, int] = {}
        self.opened = 0
        for agent, cap, groups, weight, online in agents:
            self.add_agent(agent, cap, groups, weight, online)
        for i, (buyer, group, priority, kind) in enumerate(sessions):
            self.open_session(SESSIONS[i], buyer, group, priority, kind)
            self.clock.advance(1)

    def both(self, call: Callable[[Assigner], list[Event]]) -> list[Event] | None:
        outcomes: list[tuple[Any, ...]] = []
        for a in (self.subject, *self.references):
            before = a.snapshot()
            try:
                outcomes.append(("ok", call(a)))
            except KefuError as exc:
                assert a.snapshot() == before, "a rejected call changed the state"
                outcomes.append(("error", type(exc), str(exc)))
        pairs = zip(self.reference_names, outcomes[1:], self.references, strict=True)
        for name, outcome, reference in pairs:
            assert outcomes[0] == outcome, (
                f"{self.engine_name} and {name} differ: {outcomes[0]} != {outcome}")
            assert self.subject.snapshot() == reference.snapshot(), f"snapshots differ ({name})"
        if outcomes[0][0] != "ok":
            return None
        events: list[Event] = outcomes[0][1]
        for e in events:
            self.ledger.apply(e, self.caps)
            if isinstance(e, Opened):
                self.opened += 1
                self.arrival[e.session_id] = self.opened
        assert all(p != "limbo" for p in self.ledger.place.values()), "a session left in limbo"
        return events

    # -- commands ------------------------------------------------------------

    @rule(agent=st.sampled_from(AGENTS), cap=caps, groups=group_sets,
          weight=st.integers(0, 3), online=st.booleans())
    def add_agent(self, agent: str, cap: Cap, groups: frozenset[str] | None, weight: int,
                  online: bool) -> None:
        known = agent in self.caps
        if not known:
            self.caps[agent] = cap
        added = self.both(lambda a: a.add_agent(agent, cap, groups, weight, online=online))
        if added is None and not known:
            del self.caps[agent]

    @rule(agent=st.sampled_from(AGENTS))
    def remove_agent(self, agent: str) -> None:
        if self.both(lambda a: a.remove_agent(agent)) is not None:
            del self.caps[agent]
            self.ledger.forget_agent(agent)

    @rule(agent=st.sampled_from(AGENTS))
    def agent_online(self, agent: str) -> None:
        self.back_from_away(agent, lambda a: a.agent_online(agent))

    @rule(agent=st.sampled_from(AGENTS))
    def agent_away(self, agent: str) -> None:
        """R27: away keeps the sessions and takes no automatic assignment."""
        if self.both(lambda a: a.agent_away(agent)) is not None:
            self.ledger.away.add(agent)

    @rule(agent=st.sampled_from(AGENTS), requeue=st.booleans(),
          grace=st.sampled_from([None, None, 30.0, 60.0, 90.0]))
    def agent_offline(self, agent: str, requeue: bool, grace: float | None) -> None:
        """R15, R27: requeue, a grace period (timers at the deadlines of advance()), or both
        (refused alike)."""
        self.back_from_away(agent, lambda a: a.agent_offline(agent, requeue=requeue, grace=grace))

    def back_from_away(self, agent: str, call: Callable[[Assigner], list[Event]]) -> None:
        """A call that ends ``agent``'s away status, if it succeeds; the ledger must know
        before the call's events (a drain to the agent) are checked."""
        was_away = agent in self.ledger.away
        self.ledger.away.discard(agent)
        if self.both(call) is None and was_away:
            self.ledger.away.add(agent)

    @rule(agent=st.sampled_from(AGENTS), cap=caps)
    def set_cap(self, agent: str, cap: Cap) -> None:
        old = self.caps.get(agent)
        if agent in self.caps:
            self.caps[agent] = cap
        if self.both(lambda a: a.set_cap(agent, cap)) is None and old is not None:
            self.caps[agent] = old

    @rule(agent=st.sampled_from(AGENTS), weight=st.integers(0, 3))
    def set_weight(self, agent: str, weight: int) -> None:
        self.both(lambda a: a.set_weight(agent, weight))

    @rule(sid=st.sampled_from(SESSIONS), buyer=st.sampled_from([None, *BUYERS]),
          group=st.sampled_from(GROUPS), priority=st.integers(0, 2), kind=st.sampled_from(KINDS))
    def open_session(self, sid: str, buyer: str | None, group: str | None, priority: int,
                     kind: str | None) -> None:
        self.both(lambda a: a.open_session(sid, buyer=buyer, group=group, priority=priority,
                                           kind=kind))

    @rule(sid=st.sampled_from(SESSIONS), buyer=st.sampled_from([None, *BUYERS]),
          group=st.sampled_from(GROUPS))
    def open_another_session(self, sid: str, buyer: str | None, group: str | None) -> None:
        """Opening is the busiest command of a real shop: give it twice the weight."""
        self.open_session(sid, buyer, group, 0, None)

    @rule(sid=st.sampled_from(SESSIONS))
    def close_another_session(self, sid: str) -> None:
        self.close_session(sid)

    @rule(sid=st.sampled_from(SESSIONS))
    def buyer_message(self, sid: str) -> None:
        self.both(lambda a: a.buyer_message(sid))

    @rule(sid=st.sampled_from(SESSIONS), auto=st.booleans(),
          sender=st.sampled_from([None, None, "holder", "holder", *AGENTS, "ghost"]))
    def agent_message(self, sid: str, auto: bool, sender: str | None) -> None:
        """S04: unattributed, from the holder, or from someone else (refused: NotHolder)."""
        if sender == "holder":
            place = self.ledger.place.get(sid, "pool:")
            sender = "A" if place.startswith("pool:") else place
        self.both(lambda a: a.agent_message(sid, auto=auto, agent_id=sender))

    @rule(sid=st.sampled_from(SESSIONS), agent=st.sampled_from(AGENTS))
    def assign(self, sid: str, agent: str) -> None:
        self.both(lambda a: a.assign(sid, agent))

    @rule(sid=st.sampled_from(SESSIONS), agent=st.sampled_from(AGENTS))
    def transfer(self, sid: str, agent: str) -> None:
        self.both(lambda a: a.transfer(sid, agent))

    @rule(sid=st.sampled_from(SESSIONS))
    def close_session(self, sid: str) -> None:
        self.both(lambda a: a.close_session(sid))

    @rule(dt=st.sampled_from([0, 1, 10, 29, 30, 31, 60, 61, 89, 90, 299, 300, 301, 1200, 1500]),
          tick=st.booleans())
    def advance(self, dt: float, tick: bool) -> None:
        self.clock.advance(dt)
        if tick:
            self.both(lambda a: a.tick())

    @rule()
    def tick(self) -> None:
        deadline = self.subject.next_deadline()
        assert all(deadline == r.next_deadline() for r in self.references)
        if deadline is not None and deadline > self.clock.now():
            self.clock.set(deadline)
        self.both(lambda a: a.tick())
        nxt = self.subject.next_deadline()
        assert nxt is None or nxt > self.clock.now(), "a due timer survived tick()"

    @rule(source_index=st.integers(0, 2), everyone=st.booleans())
    def snapshot_restore(self, source_index: int, everyone: bool) -> None:
        """Restore the subject from its own snapshot or from another engine's (R22, R23);
        with ``everyone``, the references too, each on its own engine."""
        engines = [self.subject, *self.references]
        source = engines[source_index % len(engines)]
        data = json.loads(json.dumps(source.snapshot()))
        restored = Assigner.restore(data, self.clock, engine=self.engine_name)  # type: ignore[arg-type]
        assert restored.snapshot() == self.subject.snapshot()
        self.subject = restored
        # R25: a line's hand-overs are not in the snapshot: a restored Assigner starts
        # without them, so only Assigners restored together estimate alike.
        self.restored_alone = not everyone
        if everyone:
            self.references = [
                Assigner.restore(data, self.clock, engine=name)  # type: ignore[arg-type]
                for name in self.reference_names]
            self.model = self.references[-1]

    # -- invariants -------------------------------------------------------------

    @invariant()
    def engines_check_themselves(self) -> None:
        self.subject.check()
        for reference in self.references:
            reference.check()

    @invariant()
    def R22_every_open_session_in_exactly_one_place(self) -> None:
        a = self.subject
        places: dict[str, str] = {}
        for agent in a.agent_ids():
            listed = a.reception_list(agent)
            # R26: the load is the sum of the weights; the view also counts the sessions.
            assert a.load(agent) == self.ledger.load[agent]
            assert a.load(agent) == sum(self.ledger.weight[sid] for sid in listed)
            assert a.agent(agent).sessions == len(listed)
            for sid in listed:
                assert sid not in places, f"{sid} in two places"
                places[sid] = agent
        for sid in a.waiting():
            assert sid not in places, f"{sid} in two places"
            view = a.session(sid)
            assert view.pool is not None and view.agent_id is None
            places[sid] = "pool:" + view.pool.value
        assert places == self.ledger.place, "state and event stream disagree"
        assert sorted(places) == sorted(a.session_ids())

    @invariant()
    def R07_waiting_in_priority_then_arrival_order(self) -> None:
        a = self.subject
        keys = [(-a.session(s).priority, self.arrival[s]) for s in a.waiting()]
        assert keys == sorted(keys)

    def reasons_not_eligible(self, v: AgentView, s: SessionView,
                             agents: list[AgentView]) -> tuple[Reason, ...]:
        """Why agent ``v`` may not take session ``s``, from the rule's text and the event
        ledger (not the engine's own record of time-outs)."""
        def serves(x: AgentView, group: str | None) -> bool:
            return x.groups is None or group is None or group in x.groups

        def brings_in(steps: list[LadderStep]) -> bool:
            return any(step.groups is None or v.groups is None or bool(v.groups & step.groups)
                       for step in steps)

        online_for = any(x.online and serves(x, s.group) for x in agents)
        limit = v.cap.room_limit
        ladder = (self.config["ladders"] or {}).get(s.group, []) if s.agent_id is None else []
        reached = self.ledger.steps.get(s.session_id, 0)
        assert s.step == reached, f"R24: {s.session_id} at step {s.step}, events say {reached}"
        own = serves(v, s.group)
        laddered = not own and brings_in(ladder[:reached])
        not_yet = not own and not laddered and brings_in(ladder[reached:])
        checks = [
            (Reason.WRONG_GROUP, not own and not laddered and not not_yet),
            (Reason.NOT_YET, not_yet),
            # Ladder steps bring in online agents only; diversion is for the own group.
            (Reason.OFFLINE, not v.online and (laddered or not_yet or not (
                self.config["offline_diversion"] and not online_for))),
            (Reason.AWAY, v.agent_id in self.ledger.away),
            (Reason.SUSPENDED, limit == 0),
            # R26: no room under the cap for this session's weight.
            (Reason.FULL, limit is not None and limit > 0
             and v.load + self.ledger.weight[s.session_id] > limit),
            (Reason.WEIGHT_ZERO, self.config["strategy"] is Strategy.WEIGHTED and v.weight == 0),
            (Reason.TIMED_OUT, v.agent_id in self.ledger.timed_out[s.session_id]),
        ]
        return tuple(reason for reason, applies in checks if applies)

    @invariant()
    def R06_no_waiting_session_has_an_eligible_agent(self) -> None:
        a = self.subject
        agents = [a.agent(x) for x in a.agent_ids()]
        assert {v.agent_id for v in agents if v.away} == self.ledger.away, "R27: away agents"
        for sid in a.waiting():
            s = a.session(sid)
            for v in agents:
                assert self.reasons_not_eligible(v, s, agents), (
                    f"R06: {sid} waits while {v.agent_id} is eligible")

    @invariant()
    def R29_explain_gives_every_agents_reasons_alike_on_every_engine(self) -> None:
        a = self.subject
        agents = [a.agent(x) for x in a.agent_ids()]
        for sid in a.session_ids():
            s = a.session(sid)
            assert s.timed_out == frozenset(self.ledger.timed_out[sid])
            e = a.explain(sid)
            for reference in self.references:
                assert reference.explain(sid) == e
            assert [v.agent_id for v in e.agents] == [v.agent_id for v in agents]
            for v, verdict in zip(agents, e.agents, strict=True):
                assert verdict.reasons == self.reasons_not_eligible(v, s, agents)
                assert verdict.eligible == (not verdict.reasons)
                assert verdict.holds == (v.agent_id == s.agent_id)
                assert verdict.diverted == (verdict.eligible and not v.online)


    @invariant()
    def R25_position_is_the_place_in_the_groups_line_alike_on_every_engine(self) -> None:
        a = self.subject
        waiting = a.waiting()
        groups = {sid: a.session(sid).group for sid in waiting}
        for sid in a.session_ids():
            position = a.position(sid)
            for reference in self.references:
                assert reference.position(sid) == position, f"R25: {sid} differs"
            if sid in groups:
                line = [t for t in waiting if groups[t] == groups[sid]]
                assert position == line.index(sid) + 1, f"R25: {sid} at {position}, {line}"
            else:
                assert position is None, f"R25: assigned {sid} at {position}"

    @invariant()
    def R25_estimated_wait_alike_on_every_engine(self) -> None:
        estimates = [[a.estimated_wait(sid, sample) for sid in self.subject.session_ids()
                      for sample in (1, 3, 32)]
                     for a in (self.subject, *self.references)]
        if not self.restored_alone:
            assert estimates[0] == estimates[1], "R25: estimates differ from the reference"
        assert all(e == estimates[-1] for e in estimates[1:]), "R25: references differ"
        for sid, estimate in zip(self.subject.session_ids(), estimates[0][::3], strict=True):
            if self.subject.position(sid) is None:
                assert estimate is None, f"R25: assigned {sid} has an estimate"
            else:
                assert estimate is None or estimate > 0.0


def run_machine(engine: str, references: tuple[str, ...] = ("naive",)) -> None:
    machine = type(f"LockstepMachine_{engine}", (LockstepMachine,),
                   {"engine_name": engine, "reference_names": references})
    # The lockstep machine is the strongest test here: five times the profile's examples,
    # for the strongest lockstep this build can run (all three engines when the compiled
    # one is built); the Python engine against the model alone, beside it, three times.
    strongest = "c" not in ENGINES or engine == "c"
    examples = settings.default.max_examples * (5 if strongest else 3)
    run_state_machine_as_test(
        machine,
        settings=settings(settings.default, max_examples=examples, stateful_step_count=60),
    )


def test_R06_R07_R22_lockstep_with_naive_model_py() -> None:
    run_machine("py")


@pytest.mark.c_extension
def test_R23_c_engine_lockstep_with_python_engine_and_naive_model() -> None:
    """R23: the compiled engine, the Python engine and the model agree event for event."""
    run_machine(require_engine("c"), references=("py", "naive"))
