"""``Assigner.apply``: many commands in one call, on every engine (R20, R21, R22, R23).

A batch is a list of ``(method_name, *positional_args)`` tuples plus
``("at", seconds)`` to move the batch's time. These tests pin that:

* a batch returns exactly the events of the same calls made one by one (same
  config, same times) and leaves the same state (R21, R22);
* ``("at", t)`` stamps the commands after it with ``t``; timers fire only in a
  ``("tick",)`` at or after their deadline, stamped with the deadline; time
  never runs backwards, within a batch or after it (R20);
* the first failing command raises :class:`BatchAborted`: the commands before
  it stay applied and their events are carried, the failing one changes
  nothing (R22);
* the compiled engine's fast path and the checked path of every engine agree
  on random batches of valid and invalid commands (R23);
* the compiled engine's events are plain values: untracked by the cyclic GC,
  yet equal, hashable, printable, picklable like the constructor-built ones (R21).
"""

from __future__ import annotations

import copy
import gc
import math
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, LadderStep, ManualClock, QueueLimit, Strategy
from kefu.assigner import MAX_PRIORITY
from kefu.errors import (
    AgentOffline,
    BatchAborted,
    DuplicateAgent,
    DuplicateSession,
    InvalidArgument,
    InvalidAssign,
    InvalidCap,
    InvalidTransfer,
    InvalidWeight,
    KefuError,
    NotHolder,
    SessionWaiting,
    UnknownAgent,
    UnknownKind,
    UnknownSession,
)
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Escalated,
    Event,
    Opened,
    Overflowed,
    Pool,
    Queued,
    Reassigned,
    Rejected,
    Requeued,
    ResponseTimedOut,
    Transferred,
    from_dict,
)

Make = Callable[..., Assigner]
Command = tuple[Any, ...]

#: The config of the example shop: both timers and sticky return on, so every path runs.
CONFIG: dict[str, Any] = {
    "first_response_timeout": 30.0,
    "auto_close_after": 60.0,
    "sticky_window": 300.0,
    "session_kinds": {"chat": 1, "dispute": 2},  # R26
}

#: A small shop (LEAST_LOAD): A holds s1 s3 (full at 2), B holds s2 s4 s5 (full at 3),
#: C is offline, s6 waits in the queue pool.
SETUP: list[Command] = [
    ("add_agent", "A", Cap.limit(2), None, 1, True),
    ("add_agent", "B", 3, ["pre", "post"], 2, True),
    ("add_agent", "C"),
    ("open_session", "s1", "b1"),
    ("open_session", "s2", "b2", "pre"),
    ("open_session", "s3", "b3", None, 2),
    ("open_session", "s4"),
    ("open_session", "s5", "b5", "post"),
    ("open_session", "s6", None, "pre", 1),
]


def one_by_one(a: Assigner, clock: ManualClock, commands: Sequence[Command]) -> list[Event]:
    """The same commands as single facade calls; ``("at", t)`` sets the manual clock."""
    events: list[Event] = []
    for name, *args in commands:
        if name == "at":
            clock.set(args[0])
        elif name == "add_agent" and len(args) == 5:
            events.extend(a.add_agent(*args[:4], online=args[4]))
        else:
            events.extend(getattr(a, name)(*args))
    return events


def twin(engine: str, **config: Any) -> tuple[Assigner, ManualClock]:
    """An Assigner on its own manual clock, for one-by-one replays."""
    clock = ManualClock(0.0)
    return Assigner(clock, engine=engine, **config), clock  # type: ignore[arg-type]


def kinds(events: Sequence[Event]) -> set[type]:
    return {type(e) for e in events}


# -- R21: a batch is its calls ------------------------------------------------------------

#: Per command kind: the commands run after SETUP, and event classes they must cause.
CASES: dict[str, tuple[list[Command], set[type]]] = {
    "setup_only": ([], set()),
    "add_agent_all_five_args": ([("add_agent", "D", Cap.limit(5), ["pre"], 3, True)], {Assigned}),
    "add_agent_defaults_omitted": ([
        ("add_agent", "D"),
        ("add_agent", "E", 4),
        ("add_agent", "F", Cap.SUSPENDED, None),
        ("add_agent", "G", Cap.UNLIMITED, frozenset({"post"}), 0),
        ("add_agent", "H", 7, ("pre",), 2, False),
    ], set()),
    "remove_agent": ([("remove_agent", "A")], {Requeued, Queued}),
    "agent_online": ([("agent_online", "C"), ("agent_online", "C")], {Assigned}),
    "agent_offline": ([("agent_offline", "A"), ("agent_offline", "A", False)], set()),
    "agent_offline_requeue": ([("agent_offline", "B", True)], {Requeued, Queued}),
    "set_cap_with_a_cap": ([("set_cap", "A", Cap.limit(3)), ("set_cap", "B", Cap.SUSPENDED),
                            ("set_cap", "B", Cap.UNLIMITED)], {Assigned}),
    "set_cap_with_an_int": ([("set_cap", "B", 4)], {Assigned}),
    "set_weight": ([("set_weight", "A", 5), ("set_weight", "B", 0)], set()),
    "open_session_1_to_4_args": ([
        ("close_session", "s1"),
        ("open_session", "s7"),
        ("open_session", "s8", "b8"),
        ("open_session", "s9", None, "post"),
        ("open_session", "s10", "b10", None, -3),
        ("open_session", "s11", "b11", "pre", MAX_PRIORITY),
    ], {Opened, Queued, Assigned, Closed}),
    "open_session_with_a_kind": ([  # R26: a fifth argument
        ("close_session", "s1"),
        ("open_session", "s7", "b7", None, 0, "dispute"),
        ("open_session", "s8", "b8", None, 0, "chat"),
        ("open_session", "s9", "b9", "post", 1, None),
    ], {Opened, Queued, Assigned, Closed}),
    "buyer_message": ([("at", 10.0), ("agent_message", "s1"), ("at", 20.0),
                       ("buyer_message", "s1"), ("buyer_message", "s6")], set()),
    "agent_message_with_and_without_auto": ([
        ("at", 5.0), ("agent_message", "s1"), ("agent_message", "s2", False),
        ("agent_message", "s6", True), ("agent_message", "s3", True),
    ], set()),
    "assign": ([("assign", "s6", "A")], {Assigned}),
    "transfer": ([("transfer", "s1", "B"), ("transfer", "s2", "A")], {Transferred}),
    "close_session": ([("close_session", "s6"), ("close_session", "s2"),
                       ("close_session", "s1"), ("open_session", "s12", "b1")],
                      {Closed, Assigned, Opened}),
    "tick": ([
        ("tick",), ("at", 30.0), ("tick",), ("agent_message", "s1"), ("set_cap", "A", 3),
        ("agent_online", "C"), ("at", 200.0), ("tick",),
    ], {ResponseTimedOut, Reassigned, Closed}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_R21_batch_events_equal_one_by_one_calls(engine: str, make: Make, case: str) -> None:
    """Every command kind, with every arity: a batch returns the concatenated events of the
    same calls made one by one, and leaves the same state (R21, R22)."""
    extra, expected_kinds = CASES[case]
    commands = SETUP + extra
    batched = make(**CONFIG)
    events = batched.apply(commands)

    single, clock = twin(engine, **CONFIG)
    setup_events = one_by_one(single, clock, SETUP)
    extra_events = one_by_one(single, clock, extra)

    assert events == setup_events + extra_events
    assert [repr(e) for e in events] == [repr(e) for e in setup_events + extra_events]
    assert expected_kinds <= kinds(extra_events), f"{case} did not exercise {expected_kinds}"
    assert batched.snapshot() == single.snapshot()
    assert batched.next_deadline() == single.next_deadline()
    batched.check()


def test_R21_batch_setup_reaches_the_documented_shop(engine: str, make: Make) -> None:
    """The example shop really is what the cases assume (A full, B full, s6 waiting)."""
    a = make(**CONFIG)
    a.apply(SETUP)
    assert a.reception_list("A") == ["s1", "s3"]
    assert sorted(a.reception_list("B")) == ["s2", "s4", "s5"]
    assert a.waiting() == ["s6"]
    assert a.agent("C").online is False


def test_R21_batch_accepts_any_iterable_and_an_empty_batch(engine: str, make: Make) -> None:
    a = make(**CONFIG)
    assert a.apply([]) == []
    assert a.apply(iter(())) == []
    events = a.apply(c for c in SETUP)
    single, clock = twin(engine, **CONFIG)
    assert events == one_by_one(single, clock, SETUP)
    assert a.snapshot() == single.snapshot()


def _fresh(name: str) -> str:
    """An equal name that is not the interned literal (a new str object each call)."""
    fresh = "".join(list(name))
    assert fresh == name
    return fresh


def test_R21_R23_command_names_built_at_run_time_act_as_literals(engine: str,
                                                                 make: Make) -> None:
    """A command name read from a file or joined at run time is an equal str but not the
    interned literal: every command kind still runs as its literal would (R21, R23)."""
    commands = (SETUP + CASES["open_session_1_to_4_args"][0]
                + [("agent_message", "s2"), ("agent_message", "s4", True), ("buyer_message", "s5"),
                   ("at", 10.0), ("tick",), ("transfer", "s2", "A"), ("at", 30.0), ("tick",),
                   ("agent_message", "s8", True), ("set_cap", "A", 3), ("agent_online", "C"),
                   ("at", 200.0), ("tick",)])
    rebuilt = [(_fresh(c[0]), *c[1:]) for c in commands]
    assert all(r[0] is not c[0] for r, c in zip(rebuilt, commands, strict=True))
    literal, fresh = make(**CONFIG), make(**CONFIG)
    events = literal.apply(commands)
    assert fresh.apply(rebuilt) == events
    assert {Opened, Assigned, Queued, Closed, ResponseTimedOut, Transferred} <= kinds(events)
    assert literal.snapshot() == fresh.snapshot()
    with pytest.raises(BatchAborted) as literal_abort:  # the same failure, the same abort
        literal.apply([("at", 260.0), ("buyer_message", "s5"), ("close_session", "s1")])
    with pytest.raises(BatchAborted) as fresh_abort:
        fresh.apply([(_fresh("at"), 260.0), (_fresh("buyer_message"), "s5"),
                     (_fresh("close_session"), "s1")])
    assert (literal_abort.value.index, literal_abort.value.events) == (
        fresh_abort.value.index, fresh_abort.value.events) == (2, [])
    assert type(literal_abort.value.cause) is type(fresh_abort.value.cause) is UnknownSession
    assert literal.snapshot() == fresh.snapshot()


@pytest.mark.parametrize("then", [
    [("close_session", "s1"), ("buyer_message", "s1")],
    [("close_session", "s1"), ("open_session", "s2"), ("agent_message", "s1")],
    [("close_session", "s1"), ("open_session", "s2"), ("close_session", "s1")],
], ids=["closed", "slot_reused_then_message", "slot_reused_then_close"])
def test_R22_a_session_closed_in_the_batch_is_unknown_to_its_id_object(
        engine: str, make: Make, then: list[Command]) -> None:
    """A batch that opens and closes a session and then names it again by the very same
    id object (its freed slot maybe taken by another session) gets UnknownSession, as
    one by one calls would: a batch remembering where an id object lives never
    resurrects a closed session nor names the new one (R22)."""
    sid = "".join(["s", "1"])
    other = make(**CONFIG)
    commands = [("open_session", sid, "b1"), ("buyer_message", sid), ("agent_message", sid)]
    commands += [(c[0], sid if c[1] == "s1" else c[1]) for c in then]
    a = make(**CONFIG)
    a.apply([("add_agent", "A", 5, None, 1, True)])
    with pytest.raises(BatchAborted) as aborted:
        a.apply(commands)
    assert aborted.value.index == len(commands) - 1
    assert type(aborted.value.cause) is UnknownSession
    other.apply([("add_agent", "A", 5, None, 1, True)])
    expected = other.apply(commands[:-1])
    assert aborted.value.events == expected
    assert a.snapshot() == other.snapshot()
    # The equal id built anew (not the object the batch saw) is found the same way.
    assert a.apply([("open_session", "".join(["s", "1"])), ("buyer_message", sid),
                    ("close_session", "s1")])[-1].session_id == "s1"


def test_R21_batches_chain_like_calls(engine: str, make: Make) -> None:
    """Splitting a command list into several batches changes nothing."""
    commands = SETUP + CASES["transfer"][0] + CASES["tick"][0] + [("close_session", "s2")]
    whole = make(**CONFIG)
    all_at_once = whole.apply(commands)
    pieces, _ = twin(engine, **CONFIG)
    in_pieces: list[Event] = []
    for start in range(0, len(commands), 3):
        in_pieces.extend(pieces.apply(commands[start:start + 3]))
    assert all_at_once == in_pieces
    assert whole.snapshot() == pieces.snapshot()


# -- R20: time in a batch -----------------------------------------------------------------

def test_R20_at_moves_the_batch_time(engine: str, make: Make, clock: ManualClock) -> None:
    a = make()
    events = a.apply([
        ("add_agent", "A", 1, None, 1, True),
        ("at", 7.5), ("open_session", "s1"),
        ("at", 7.5), ("open_session", "s2"),  # the same time again is fine
        ("at", 9), ("close_session", "s1"),   # an int is seconds too
    ])
    assert events == [
        Opened("s1", None, None, 0, 7.5), Assigned("s1", "A", 7.5, AssignReason.NEW),
        Opened("s2", None, None, 0, 7.5), Queued("s2", Pool.QUEUE, 7.5),
        Closed("s1", "A", None, 9.0, CloseReason.MANUAL),
        Assigned("s2", "A", 9.0, AssignReason.DRAIN),
    ]
    assert all(type(e.at) is float for e in events)
    assert clock.now() == 0.0, "a batch never moves the caller's clock"


def test_R20_a_batch_starts_at_the_clocks_now(engine: str, make: Make, clock: ManualClock) -> None:
    a = make()
    clock.set(100.0)
    assert a.apply([("open_session", "s1")])[0].at == 100.0
    with pytest.raises(BatchAborted) as info:
        a.apply([("at", 99.0)])
    assert isinstance(info.value.cause, InvalidArgument)
    assert "before" in str(info.value.cause)


def test_R20_timers_fire_in_a_later_tick_stamped_with_their_deadline(
    engine: str, make: Make
) -> None:
    a = make(first_response_timeout=30.0, auto_close_after=60.0)
    events = a.apply([
        ("add_agent", "A", Cap.UNLIMITED, None, 1, True),
        ("open_session", "s1", "b1"),
        ("at", 29.0), ("tick",),
    ])
    assert kinds(events) == {Opened, Assigned}, "nothing is due before the deadline"
    assert a.next_deadline() == 30.0
    events = a.apply([("at", 30.0), ("tick",)])
    assert events == [ResponseTimedOut("s1", "A", 30.0, buyer_id="b1")], (
        "due exactly at the deadline")
    events = a.apply([("at", 40.0), ("agent_message", "s1"), ("at", 500.0)])
    assert events == [], "timers fire only in tick"
    assert a.next_deadline() == 100.0
    events = a.apply([("tick",)])
    assert events == [Closed("s1", "A", None, 100.0, CloseReason.AUTO, buyer_id="b1")]
    assert a.next_deadline() is None


def test_R20_timers_due_at_the_same_tick_fire_in_deadline_order(engine: str, make: Make) -> None:
    a = make(auto_close_after=60.0)
    events = a.apply([
        ("add_agent", "A", Cap.UNLIMITED, None, 1, True),
        ("open_session", "s1"), ("open_session", "s2"), ("open_session", "s3"),
        ("at", 10.0), ("agent_message", "s2"),
        ("at", 20.0), ("agent_message", "s1"), ("agent_message", "s3"),
        ("at", 1000.0), ("tick",),
    ])
    closed = [e for e in events if isinstance(e, Closed)]
    assert [(e.session_id, e.at) for e in closed] == [("s2", 70.0), ("s1", 80.0), ("s3", 80.0)]


BAD_TIMES: list[tuple[str, object]] = [
    ("backwards", 4.0),
    ("str", "10"),
    ("none", None),
    ("nan", math.nan),
    ("inf", math.inf),
    ("minus_inf", -math.inf),
    ("true", True),
    ("false", False),
    ("complex", 10j),
]


@pytest.mark.parametrize("value", [v for _, v in BAD_TIMES], ids=[n for n, _ in BAD_TIMES])
def test_R20_bad_at_aborts_with_invalid_argument(engine: str, make: Make, value: object) -> None:
    a = make()
    before: list[Command] = [("at", 5.0), ("open_session", "s1")]
    with pytest.raises(BatchAborted) as info:
        a.apply([*before, ("at", value), ("open_session", "s2")])
    exc = info.value
    assert exc.index == 2
    assert type(exc.cause) is InvalidArgument
    assert exc.__cause__ is exc.cause
    assert exc.at == 5.0
    assert [e.session_id for e in exc.events] == ["s1", "s1"]
    assert a.session_ids() == ["s1"]


@pytest.mark.parametrize("command", [("at",), ("at", 1.0, 2.0)], ids=["no_time", "two_times"])
def test_R20_at_takes_exactly_one_time(engine: str, make: Make, command: Command) -> None:
    with pytest.raises(BatchAborted) as info:
        make().apply([command])
    assert type(info.value.cause) is InvalidArgument


def test_R20_later_calls_never_run_before_the_batch(
    engine: str, make: Make, clock: ManualClock
) -> None:
    """After a batch the facade holds its last time while the clock is behind."""
    a = make()
    a.apply([("add_agent", "A", Cap.UNLIMITED, None, 1, True), ("at", 50.0)])
    assert clock.now() == 0.0
    assert a.open_session("s1")[0].at == 50.0
    with pytest.raises(BatchAborted) as info:
        a.apply([("at", 40.0)])
    assert info.value.at == 50.0, "the next batch starts at the last batch's time"
    clock.set(60.0)
    assert a.open_session("s2")[0].at == 60.0, "the clock takes over once it is ahead"


def test_R20_an_aborted_batch_still_holds_its_time(
    engine: str, make: Make, clock: ManualClock
) -> None:
    a = make()
    with pytest.raises(BatchAborted) as info:
        a.apply([("at", 50.0), ("open_session", "s1"), ("at", 70.0), ("close_session", "nope")])
    assert info.value.at == 70.0
    assert a.open_session("s2")[0].at == 70.0
    assert a.session("s1").opened_at == 50.0


# -- R22: BatchAborted ---------------------------------------------------------------------

#: (id, failing command, cause type, whether the facade has the same call to compare with)
FAILURES: list[tuple[str, object, type[KefuError], bool]] = [
    ("unknown_session", ("close_session", "nope"), UnknownSession, True),
    ("unknown_session_msg", ("buyer_message", "nope"), UnknownSession, True),
    ("unknown_session_agent_msg", ("agent_message", "nope", True), UnknownSession, True),
    ("duplicate_session", ("open_session", "s1", "b9"), DuplicateSession, True),
    ("duplicate_agent", ("add_agent", "A"), DuplicateAgent, True),
    ("unknown_agent", ("remove_agent", "Z"), UnknownAgent, True),
    ("unknown_agent_assign", ("assign", "s6", "Z"), UnknownAgent, True),
    ("session_waiting", ("agent_message", "s6"), SessionWaiting, True),
    ("transfer_to_same_agent", ("transfer", "s1", "A"), InvalidTransfer, True),
    ("transfer_waiting", ("transfer", "s6", "A"), InvalidTransfer, True),
    ("assign_assigned", ("assign", "s1", "B"), InvalidAssign, True),
    ("assign_to_offline", ("assign", "s6", "C"), AgentOffline, True),
    ("cap_zero", ("set_cap", "A", 0), InvalidCap, True),
    ("cap_str", ("add_agent", "D", "20"), InvalidCap, True),
    ("weight_negative", ("set_weight", "A", -1), InvalidWeight, True),
    ("session_id_int", ("open_session", 5), InvalidArgument, True),
    ("session_id_empty", ("close_session", ""), InvalidArgument, True),
    ("buyer_int", ("open_session", "s9", 3), InvalidArgument, True),
    ("priority_float", ("open_session", "s9", None, None, 1.5), InvalidArgument, True),
    ("priority_bool", ("open_session", "s9", None, None, True), InvalidArgument, True),
    ("priority_huge", ("open_session", "s9", None, None, MAX_PRIORITY + 1), InvalidArgument,
     True),
    ("agent_id_none", ("agent_online", None), InvalidArgument, True),
    ("R26_unknown_kind", ("open_session", "s9", None, None, 0, "refund"), UnknownKind, True),
    ("R26_kind_int", ("open_session", "s9", None, None, 0, 2), InvalidArgument, True),
    ("groups_str", ("add_agent", "D", 5, "pre"), InvalidArgument, True),
    ("requeue_int", ("agent_offline", "A", 1), InvalidArgument, True),
    ("auto_str", ("agent_message", "s1", "yes"), InvalidArgument, True),
    ("S04_not_holder", ("agent_message", "s1", False, "B"), NotHolder, True),
    ("S04_not_holder_auto", ("agent_message", "s2", True, "A"), NotHolder, True),
    ("S04_not_holder_waiting", ("agent_message", "s6", True, "A"), NotHolder, True),
    ("S04_not_holder_unknown_agent", ("agent_message", "s1", False, "Z"), NotHolder, True),
    ("S04_sender_int", ("agent_message", "s1", False, 7), InvalidArgument, True),
    ("S04_sender_empty", ("agent_message", "s1", False, ""), InvalidArgument, True),
    ("S04_sender_unknown_session", ("agent_message", "nope", False, "A"), UnknownSession, True),
    ("unknown_command", ("frobnicate", "s1"), InvalidArgument, False),
    ("private_method", ("_close", "s1"), InvalidArgument, False),
    ("query_method", ("snapshot",), InvalidArgument, False),
    ("name_not_str", (5, "s1"), InvalidArgument, False),
    ("too_few_args", ("close_session",), InvalidArgument, False),
    ("too_many_args", ("close_session", "s1", "s2"), InvalidArgument, False),
    ("tick_with_arg", ("tick", 1.0), InvalidArgument, False),
    ("add_agent_six_args", ("add_agent", "D", 5, None, 1, True, "x"), InvalidArgument, False),
    ("open_session_five_args", ("open_session", "s9", None, None, 0, 0), InvalidArgument, False),
    ("agent_message_four_args", ("agent_message", "s1", False, "A", "x"), InvalidArgument,
     False),
    ("list_not_tuple", ["close_session", "s1"], InvalidArgument, False),
    ("str_not_tuple", "tick", InvalidArgument, False),
    ("none_not_tuple", None, InvalidArgument, False),
    ("empty_tuple", (), InvalidArgument, False),
]


@pytest.mark.parametrize(("command", "cause_type", "comparable"),
                         [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_R22_batch_aborted_keeps_the_prefix_and_the_failure_changes_nothing(
    engine: str, make: Make, command: object, cause_type: type[KefuError], comparable: bool
) -> None:
    prefix = [*SETUP, ("at", 5.0), ("agent_message", "s2"), ("open_session", "s7", "b7")]
    after: list[Command] = [("close_session", "s2"), ("open_session", "s8")]
    a = make(**CONFIG)
    with pytest.raises(BatchAborted) as info:
        a.apply([*prefix, command, *after])
    exc = info.value

    replay, clock = twin(engine, **CONFIG)
    replay_events = one_by_one(replay, clock, prefix)

    assert isinstance(exc, KefuError)
    assert exc.index == len(prefix)
    assert exc.command is command
    assert type(exc.cause) is cause_type
    assert exc.__cause__ is exc.cause
    assert exc.at == 5.0
    assert exc.events == replay_events, "the events of the commands before it"
    assert str(exc.cause) in str(exc) and str(exc.index) in str(exc)
    assert a.snapshot() == replay.snapshot(), "the failing command changed something (R22)"
    assert a.session_ids() == replay.session_ids()
    a.check()
    if comparable:
        name, *args = command  # type: ignore[misc]
        with pytest.raises(KefuError) as single:
            getattr(replay, name)(*args)
        assert type(single.value) is cause_type
        assert str(single.value) == str(exc.cause), "the batch names it like the facade"
        assert a.snapshot() == replay.snapshot()
    # The Assigner goes on normally after an aborted batch.
    assert a.apply(after) == replay.apply(after)
    assert a.snapshot() == replay.snapshot()


def test_R22_batch_aborted_on_the_first_command(engine: str, make: Make) -> None:
    a = make()
    before = a.snapshot()
    with pytest.raises(BatchAborted) as info:
        a.apply([("close_session", "x"), ("open_session", "s1")])
    assert info.value.index == 0 and info.value.events == []
    assert a.snapshot() == before


def test_R22_an_abort_in_a_generator_batch_stops_consuming_it(engine: str, make: Make) -> None:
    consumed: list[int] = []

    def commands() -> Any:
        for i, command in enumerate([("open_session", "s1"), ("open_session", "s1"),
                                     ("open_session", "s2")]):
            consumed.append(i)
            yield command

    with pytest.raises(BatchAborted) as info:
        make().apply(commands())
    assert info.value.index == 1 and type(info.value.cause) is DuplicateSession
    assert consumed == [0, 1]


def test_batch_aborted_is_a_kefu_error() -> None:
    cause = UnknownSession("x")
    exc = BatchAborted(3, ("close_session", "x"), cause, [], 1.0)
    assert isinstance(exc, KefuError)
    assert (exc.index, exc.command, exc.cause, exc.events, exc.at) == (
        3, ("close_session", "x"), cause, [], 1.0)
    assert "command 3" in str(exc) and "'x'" in str(exc)


# -- odd but valid values, and odd invalid ones, on the checked path -----------------------

class SubStr(str):
    """A str subclass: ids must be exactly str (check_id), so it is rejected everywhere."""


SUBSTR_COMMANDS: list[tuple[str, Command, Callable[[Assigner], object]]] = [
    ("close_session", ("close_session", SubStr("s1")), lambda a: a.close_session(SubStr("s1"))),
    ("open_session", ("open_session", SubStr("s9")), lambda a: a.open_session(SubStr("s9"))),
    ("open_session_buyer", ("open_session", "s9", SubStr("b")),
     lambda a: a.open_session("s9", SubStr("b"))),
    ("open_session_group", ("open_session", "s9", None, SubStr("g")),
     lambda a: a.open_session("s9", None, SubStr("g"))),
    ("buyer_message", ("buyer_message", SubStr("s1")), lambda a: a.buyer_message(SubStr("s1"))),
    ("agent_message", ("agent_message", SubStr("s1")), lambda a: a.agent_message(SubStr("s1"))),
    ("agent_online", ("agent_online", SubStr("A")), lambda a: a.agent_online(SubStr("A"))),
    ("transfer", ("transfer", "s1", SubStr("B")), lambda a: a.transfer("s1", SubStr("B"))),
]


@pytest.mark.parametrize(("command", "call"), [c[1:] for c in SUBSTR_COMMANDS],
                         ids=[c[0] for c in SUBSTR_COMMANDS])
def test_R22_str_subclass_ids_are_rejected_like_the_facade(
    engine: str, make: Make, command: Command, call: Callable[[Assigner], object]
) -> None:
    a = make(**CONFIG)
    a.apply(SETUP)
    before = a.snapshot()
    with pytest.raises(InvalidArgument) as single:
        call(a)
    with pytest.raises(BatchAborted) as info:
        a.apply([command])
    assert type(info.value.cause) is InvalidArgument
    assert str(info.value.cause) == str(single.value)
    assert a.snapshot() == before


def test_R23_str_subclass_command_name_is_rejected_on_every_engine(
    engine: str, make: Make, request: pytest.FixtureRequest
) -> None:
    a = make(**CONFIG)
    a.apply(SETUP)
    before = a.snapshot()
    with pytest.raises(BatchAborted) as info:
        a.apply([(SubStr("close_session"), "s1")])
    assert type(info.value.cause) is InvalidArgument
    assert a.snapshot() == before


def test_R20_huge_int_time_aborts_with_invalid_argument(engine: str, make: Make) -> None:
    with pytest.raises(BatchAborted) as info:
        make().apply([("open_session", "s1"), ("at", 10**400)])
    assert type(info.value.cause) is InvalidArgument


def test_R20_R22_a_failing_iterable_loses_nothing_and_time_holds(
    engine: str, make: Make
) -> None:
    a = make()

    def commands() -> Any:
        yield ("at", 10.0)
        yield ("open_session", "s1")
        raise RuntimeError("the feed broke")

    with pytest.raises(BatchAborted) as info:
        a.apply(commands())
    assert type(info.value.cause) is RuntimeError and info.value.__cause__ is info.value.cause
    assert info.value.index == 2 and info.value.command is None
    assert type(info.value.events[0]).__name__ == "Opened"
    assert a.session("s1").opened_at == 10.0
    assert a.open_session("s2")[0].at >= 10.0


def test_R23_odd_but_valid_values_take_the_checked_path(engine: str, make: Make) -> None:
    """Values the compiled fast path does not take are still accepted, like one by one."""

    class Seconds(float):
        pass

    commands: list[Command] = [
        ("add_agent", "A", Cap.limit(2), None, 1, True),
        ("at", 5),                                   # an int time
        ("open_session", "s1", None, None, 0),       # every optional given explicitly
        ("at", Seconds(6.5)),                        # a float subclass time
        ("open_session", "s2", "b2", None, -MAX_PRIORITY),
        ("open_session", "s3", None, None, MAX_PRIORITY),
        ("agent_message", "s1", False),
        ("agent_message", "s3", True),
        ("at", 7.0), ("tick",),
        ("at", 8.0), ("close_session", "s1"),
    ]
    a = make()
    events = a.apply(commands)
    single, clock = twin(engine)
    assert events == one_by_one(single, clock, commands)
    assert a.snapshot() == single.snapshot()
    opened = [e for e in events if isinstance(e, Opened)]
    assert [e.at for e in opened] == [5.0, 6.5, 6.5]
    assert all(type(e.at) is float for e in events)


# -- R23: every engine runs a batch the same way ------------------------------------------

AGENT_POOL = ["A", "B", "C"]
SESSION_POOL = ["s1", "s2", "s3", "s4", "s5", "s6"]
BAD_IDS: list[object] = [None, "", 7, b"s1", SubStr("s1")]


def mostly(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly a good value, sometimes a bad one, so errors occur but batches go deep."""
    return st.sampled_from(good * (6 * len(bad)) + bad)


agent_ids = mostly(AGENT_POOL, BAD_IDS)
session_ids = mostly(SESSION_POOL, BAD_IDS)
good_caps: list[Any] = [Cap.UNLIMITED, Cap.SUSPENDED, Cap.limit(1), 2, 3, 1]
caps = mostly(good_caps, [0, "2", True, 501])
good_group_sets: list[Any] = [None, None, ["pre"], frozenset({"post"}), ("pre", "post"), []]
group_sets = mostly(good_group_sets, ["pre", [5]])
weights = mostly([0, 1, 1, 2, 3], [-1, 1.0])
flags = mostly([True, False], [1, None])
#: R27 grace periods: none, valid (int or float), or refused.
graces = mostly([None, 30.0, 60], [0.0, -1.0, math.inf, "30"])
#: agent_message's sender (S04): none, a registered agent (holder or not) or an unknown one.
senders = mostly([None, None, *AGENT_POOL, "ghost"], ["", 7, SubStr("A")])
buyers = mostly([None, "b1", "b2"], [3])
groups = mostly([None, "pre", "post", None], [4])
priorities = mostly([0, 0, 1, 2, -1], [1.5, True, 2**40])
shops = st.tuples(*[st.tuples(st.sampled_from(good_caps), st.sampled_from(good_group_sets),
                              st.sampled_from([0, 1, 2, 3]), st.booleans())
                    for _ in AGENT_POOL])


def command(name: str, low: int, *args: st.SearchStrategy[Any]) -> st.SearchStrategy[Command]:
    """``(name, *args)`` with an arity mostly in ``[low, len(args)]``, sometimes one off."""
    arities = mostly(list(range(low, len(args) + 1)), [max(low - 1, 0), len(args) + 1])
    spares = st.tuples(*args, st.just("extra"))
    return st.tuples(arities, spares).map(lambda t: (name, *t[1][:t[0]]))


#: (weight, strategy) per kind of generated command; weights sum to 100.
COMMAND_MIX: list[tuple[int, st.SearchStrategy[Any]]] = [
    (20, command("open_session", 1, session_ids, buyers, groups, priorities)),
    (10, command("close_session", 1, session_ids)),
    (8, command("agent_message", 1, session_ids, flags, senders)),
    (4, command("buyer_message", 1, session_ids)),
    (5, command("assign", 2, session_ids, agent_ids)),
    (5, command("transfer", 2, session_ids, agent_ids)),
    (8, st.just(("tick",))),
    # ("after", dt) becomes ("at", now + dt) below; ("at_int", dt) an int time at or after it.
    (10, st.tuples(st.sampled_from(["after", "after", "at_int"]),
                   st.sampled_from([31.0, 61.0, 5.0, 30.0, 0.0, 29.0, 60.0, 301.0, 1200.0]))),
    (5, command("agent_online", 1, agent_ids)),
    (5, command("agent_offline", 1, agent_ids, flags, graces)),
    (2, command("agent_away", 1, agent_ids)),
    (4, command("set_cap", 2, agent_ids, caps)),
    (3, command("set_weight", 2, agent_ids, weights)),
    (3, command("add_agent", 1, agent_ids, caps, group_sets, weights, flags)),
    (3, command("remove_agent", 1, agent_ids)),
    (2, st.tuples(st.just("at"), st.sampled_from([-1.0, math.nan, math.inf, "5", True, None]))),
    (3, st.sampled_from([(), ("frobnicate",), ["tick"], "tick", (5,), ("at",), ("tick", 1)])),
]
assert sum(w for w, _ in COMMAND_MIX) == 100


def pick_command(roll: int) -> st.SearchStrategy[Any]:
    for weight, strategy in COMMAND_MIX:
        if roll < weight:
            return strategy
        roll -= weight
    raise AssertionError(roll)


commands = st.integers(0, 99).flatmap(pick_command)
configs = st.fixed_dictionaries({
    "strategy": st.sampled_from(list(Strategy)),
    "offline_diversion": st.booleans(),
    "auto_close_after": st.sampled_from([None, 60.0]),
    "first_response_timeout": st.sampled_from([None, 30.0]),
    "sticky_window": st.sampled_from([None, 300.0]),
    # R28: opening may overflow or be refused inside a batch (the C engine's fast path).
    "queue_limits": st.sampled_from([
        None, {"pre": QueueLimit(max_waiting=1, overflow="post"),
               "post": QueueLimit(max_waiting=2, max_wait=61.0)}]),
    # R24: waiting sessions widen inside a batch's ticks.
    "ladders": st.sampled_from([
        None, {"pre": [LadderStep(30.0, {"post"}), LadderStep(61.0, None)]}]),
})


def absolute_times(generated: list[object]) -> list[object]:
    """Turn ("after", dt) / ("at_int", dt) into ("at", t) never before the batch's time."""
    now = 0.0
    out: list[object] = []
    for c in generated:
        if isinstance(c, tuple) and len(c) == 2 and c[0] in ("after", "at_int"):
            now += c[1]
            if c[0] == "at_int":
                now = float(math.ceil(now))
                out.append(("at", int(now)))
            else:
                out.append(("at", now))
        else:
            out.append(c)
    return out


def run_to_the_end(engine: str, config: dict[str, Any], batch: list[object]) -> list[Any]:
    """Apply ``batch``; after each abort carry on with the commands after the failing one."""
    a = Assigner(ManualClock(0.0), engine=engine, **config)  # type: ignore[arg-type]
    outcomes: list[Any] = []
    rest = batch
    while True:
        try:
            events = a.apply(rest)
        except BatchAborted as exc:
            assert exc.__cause__ is exc.cause and exc.command is rest[exc.index]
            outcomes.append(("aborted", exc.index, type(exc.cause), str(exc.cause), exc.events,
                             exc.at, a.snapshot()))
            rest = rest[exc.index + 1:]
            continue
        outcomes.append(("ok", events, a.snapshot(), a.next_deadline()))
        a.check()
        return outcomes


@pytest.mark.parametrize("subject", [pytest.param("c", marks=pytest.mark.c_extension), "py"])
@given(config=configs, shop=shops, generated=st.lists(commands, min_size=15, max_size=60))
def test_R23_random_batches_agree_on_every_engine(
    subject: str, config: dict[str, Any], shop: tuple[tuple[Any, ...], ...],
    generated: list[object]
) -> None:
    """Random valid-and-invalid batches: the compiled engine (fast and checked paths), the
    Python engine and the naive model give equal events, aborts and snapshots (R23)."""
    require_engine(subject)
    references = ["py", "naive"] if subject == "c" else ["naive"]
    agents = [("add_agent", aid, *agent) for aid, agent in zip(AGENT_POOL, shop, strict=True)]
    batch = agents + absolute_times(generated)
    expected = run_to_the_end(subject, config, batch)
    for reference in references:
        outcome = run_to_the_end(reference, config, batch)
        assert outcome == expected, f"{subject} and {reference} differ"
        assert repr(outcome) == repr(expected)


@pytest.mark.c_extension
def test_R23_a_long_batch_agrees_between_c_and_py() -> None:
    """One long mixed batch (fast-path commands interleaved with checked ones)."""
    require_engine("c")
    batch: list[Command] = [
        ("add_agent", "A", 3, None, 1, True),
        ("add_agent", "B", 2, ["pre"], 2, True),
        ("add_agent", "C", Cap.limit(4), ["post"], 1, False),
    ]
    for n in range(600):
        sid = f"s{n % 40}"
        step = n % 12
        if step in (0, 1, 2):
            batch.append(("open_session", sid, f"b{n % 7}", [None, "pre", "post"][n % 3], n % 3))
        elif step == 3:
            batch.append(("agent_message", f"s{(n - 3) % 40}"))
        elif step == 4:
            batch.append(("at", float(n)))
        elif step == 5:
            batch.append(("tick",))
        elif step == 6:
            batch.append(("agent_online" if n % 24 < 12 else "agent_offline", "C"))
        elif step == 7:
            batch.append(("buyer_message", f"s{(n - 7) % 40}"))
        else:
            batch.append(("close_session", f"s{(n - 8) % 40}"))
    config = {"auto_close_after": 60.0, "first_response_timeout": 30.0, "sticky_window": 90.0}
    c = run_to_the_end("c", config, batch)
    py = run_to_the_end("py", config, batch)
    assert c == py
    assert sum(1 for o in c if o[0] == "aborted") > 10, "errors do occur"
    assert sum(len(o[1] if o[0] == "ok" else o[4]) for o in c) > 300, "and so do events"


# -- R21: the compiled engine's events are plain values -----------------------------------

#: The queue limits :func:`every_event_kind` needs its shop to have.
EVERY_KIND_LIMITS = {"pre": QueueLimit(max_waiting=0, overflow="post"),
                     "post": QueueLimit(max_waiting=2)}
#: The ladder :func:`every_event_kind` needs (R24): "post" sessions escalate after 250 s.
EVERY_KIND_LADDERS = {"post": [LadderStep(250.0, {"vip"})]}


def every_event_kind(a: Assigner) -> list[Event]:
    """One batch (and a few single calls) causing each of the eleven event classes (the shop
    refuses a third waiting session of group "post" and overflows "pre" there, R28; a
    waiting "post" session escalates after 250 s, R24)."""
    events = a.apply([
        ("add_agent", "A", 1, None, 1, True),
        ("add_agent", "B", 1, None, 1, True),
        ("open_session", "s1", "b1", "pre", 2),   # Opened, Assigned
        ("open_session", "s2", "b2"),
        ("open_session", "s3", None, "post"),     # Queued
        ("at", 31.0), ("tick",),                  # ResponseTimedOut (nobody else eligible)
        ("set_cap", "A", 2),                      # drain: Assigned
        ("agent_message", "s1"),
        ("transfer", "s1", "B"),                  # Transferred
        ("agent_offline", "B", True),             # Requeued
        ("close_session", "s3"),                  # Closed (manual, with agent)
        ("close_session", "s1"),                  # Closed from the queue pool
        ("agent_message", "s2", True),            # auto-close countdown
    ])
    events += a.add_agent("C", online=True)
    events += a.apply([("at", 200.0), ("tick",)])  # Reassigned, Closed (auto)
    events += a.open_session("s4")
    events += a.open_session("s5", buyer="b2")
    events += a.apply([("remove_agent", "A"), ("remove_agent", "C"),  # nobody left: all wait
                       ("open_session", "p1", "b3", "post"), ("open_session", "p2", None, "post"),
                       ("open_session", "p3", "b3", "pre")])  # Overflowed, Rejected
    events += a.apply([("at", 450.0), ("tick",)])  # Escalated
    return events


@pytest.mark.c_extension
def test_R21_c_events_are_untracked_values_equal_to_constructed_ones() -> None:
    require_engine("c")
    config = {"first_response_timeout": 30.0, "auto_close_after": 60.0,
              "queue_limits": EVERY_KIND_LIMITS, "ladders": EVERY_KIND_LADDERS}
    c_events = every_event_kind(Assigner(ManualClock(0.0), engine="c", **config))
    py_events = every_event_kind(Assigner(ManualClock(0.0), engine="py", **config))
    assert kinds(c_events) == {Opened, Assigned, Queued, Transferred, ResponseTimedOut,
                               Reassigned, Requeued, Closed, Overflowed, Rejected, Escalated}
    assert {(e.agent_id, e.pool) for e in c_events if isinstance(e, Closed)} >= {
        ("A", None), (None, Pool.QUEUE)}
    assert c_events == py_events
    for c_event, py_event in zip(c_events, py_events, strict=True):
        cls = type(c_event)
        built = cls(**attrs.asdict(c_event, recurse=False))
        assert gc.is_tracked(c_event) is False, f"{c_event!r} is tracked by the cyclic GC"
        assert type(built) is cls is type(py_event)
        assert c_event == built and built == c_event
        assert not c_event != built  # noqa: SIM202 (__ne__ too)
        assert c_event == py_event
        assert hash(c_event) == hash(built) == hash(py_event)
        assert repr(c_event) == repr(built) == repr(py_event)
        assert attrs.asdict(c_event) == attrs.asdict(built)
        assert attrs.astuple(c_event) == attrs.astuple(py_event)
        assert {c_event: 1}[built] == 1 and built in {c_event}
        assert pickle.loads(pickle.dumps(c_event)) == c_event
        assert copy.copy(c_event) == c_event and copy.deepcopy(c_event) == c_event
        assert attrs.evolve(c_event, at=c_event.at + 1) != c_event
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            c_event.at = 0.0  # type: ignore[misc]
        assert type(c_event.at) is float
        assert from_dict(c_event.to_dict()) == c_event
    # Untracked events still live and die normally inside collected cycles.
    cycle: list[Any] = [c_events]
    cycle.append(cycle)
    del cycle
    gc.collect()
    assert c_events == py_events


@pytest.mark.c_extension
def test_R21_c_events_from_single_calls_are_untracked_too() -> None:
    require_engine("c")
    a = Assigner(ManualClock(0.0), engine="c")
    events = a.add_agent("A", online=True) + a.open_session("s1") + a.close_session("s1")
    assert len(events) == 3
    assert not any(gc.is_tracked(e) for e in events)


def test_R22_ids_freed_mid_batch_and_addresses_reused_name_no_other_session(
        engine: str, make: Make) -> None:
    """A feed that builds each id anew and drops it after its command (so a later id may
    sit at a freed one's address) gets the same events, aborts and state as the same
    commands one by one: a batch never takes one session for another (R21, R22)."""
    plan = [("open_session", "s1"), ("open_session", "s2"), ("buyer_message", "s1"),
            ("close_session", "s1"), ("open_session", "s3"), ("agent_message", "s3", True),
            ("buyer_message", "s2"), ("close_session", "s2"), ("open_session", "s1"),
            ("buyer_message", "s3"), ("close_session", "s3"), ("buyer_message", "s1"),
            ("agent_message", "s2", True)] * 3

    def feed() -> Any:
        for c in plan:
            yield (c[0], "".join(list(c[1])), *c[2:])

    def outcome(a: Assigner, commands: Any) -> list[object]:
        seen: list[object] = []
        commands = iter(commands)
        while True:
            try:
                seen.append(a.apply(commands))
                return seen
            except BatchAborted as exc:
                seen.append((exc.index, type(exc.cause), exc.events))

    batched, single = make(**CONFIG), make(**CONFIG)
    for a in (batched, single):
        a.apply([("add_agent", "A", 5, None, 1, True)])
    got = outcome(batched, feed())
    expected = [outcome(single, [c]) for c in plan]
    assert [e for part in got for e in (part[2] if type(part) is tuple else part)] == [
        e for parts in expected for part in parts
        for e in (part[2] if type(part) is tuple else part)]
    assert [p[1] for p in got if type(p) is tuple] == [
        p[1] for ps in expected for p in ps if type(p) is tuple]
    assert batched.snapshot() == single.snapshot()


class _Seconds(float):
    """A time whose conversion runs ``hook`` (it changes the batch's list meanwhile)."""

    hook: Callable[[], None] = staticmethod(lambda: None)

    def __float__(self) -> float:
        type(self).hook()
        return float.__float__(self)


@pytest.mark.parametrize("change", ["append", "clear", "replace"])
def test_r21_a_list_changed_while_its_batch_runs_reads_as_its_iterator(
        make: Make, change: str) -> None:
    """A batch given as a list reads it as ``iter(list)`` would, on every engine: an item
    appended while it runs is run, a list emptied ends the batch, an item replaced ahead
    of the reading position is read as it now is (the compiled engine reads a list by
    index, not through its iterator)."""

    def run(commands: list[tuple[object, ...]]) -> tuple[list[Event], int]:
        shop = make()
        shop.apply([("add_agent", "A", 5, None, 1, True)])
        events = shop.apply(commands)
        return events, len(shop.session_ids())

    def changing() -> list[tuple[object, ...]]:
        commands: list[tuple[object, ...]] = [
            ("open_session", "s1"), ("at", _Seconds(2.0)), ("open_session", "s2")]

        def hook() -> None:
            if change == "append":
                commands.append(("open_session", "s3"))
            elif change == "clear":
                commands.clear()
            else:
                commands[2] = ("open_session", "s9")

        _Seconds.hook = staticmethod(hook)
        return commands

    try:
        events, open_now = run(changing())
    finally:
        _Seconds.hook = staticmethod(lambda: None)
    opened = [e.session_id for e in events if type(e) is Opened]
    assert opened == {"append": ["s1", "s2", "s3"], "clear": ["s1"],
                      "replace": ["s1", "s9"]}[change]
    assert open_now == len(opened)


def test_r21_a_list_batch_returns_a_list_no_bigger_than_its_events(make: Make) -> None:
    """A long list of commands that makes few events (messages, ticks, moves of time)
    returns a list sized for those events, not one holding room for every other command
    (the caller may keep it: 200,000 ticks must not cost 800 KB)."""
    import sys

    shop = make()
    events = shop.apply([("add_agent", "A")] + [("tick",)] * 200_000)
    assert events == []
    assert sys.getsizeof(events) < sys.getsizeof([]) + 8 * 64
