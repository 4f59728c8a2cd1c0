"""The compiled engine's shortcuts change nothing a caller can see (R11, R21, R22).

* Until a group name exists the compiled engine keeps no "serves every group"
  agent indexes (they would hold the same agents as the "every agent" ones);
  they are built when the first group name appears. Whenever that happens (a
  session of a group opens, an agent serving groups joins), selection, events
  and snapshots stay those of the reference engines, on every strategy.
* ``apply_columns`` remembers the slot each session handle last named and
  trusts it only while that slot still holds the very id object: a session
  closed and opened again, another session taking its slot, or the same id
  opened from an equal but distinct string give exactly ``apply``'s events
  and errors.
* When a session slot is free the compiled engine files a new id before it
  opens the session (the filing is its duplicate check), and takes it out
  again if the session is refused (R28): duplicates, refusals and reopened
  ids keep the errors, events and arrival order of the reference engines.
* The compiled engine files a timer in its heap only when the heap is next
  read (a tick, ``next_deadline``): timers stopped before that, timers set
  by a timer firing, and deadlines that tie give the reference engines'
  events and deadlines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, Command, ManualClock, QueueLimit, Strategy
from kefu.errors import BatchAborted

Tuple = tuple[Any, ...]
ENGINES = ("c", "py", "naive")

ungrouped = st.one_of(
    st.tuples(st.just("open_session"), st.sampled_from([f"s{i}" for i in range(8)])),
    st.tuples(st.just("close_session"), st.sampled_from([f"s{i}" for i in range(8)])),
    st.tuples(st.just("agent_message"), st.sampled_from([f"s{i}" for i in range(8)])),
    st.tuples(st.just("set_online"), st.sampled_from(["A", "B", "C"]), st.booleans()),
)
first_group = st.one_of(
    st.tuples(st.just("open_session"), st.just("g0"), st.none(), st.sampled_from(["x", "y"])),
    st.tuples(st.just("add_agent"), st.just("D"), st.just(Cap.limit(2)),
              st.sampled_from([["x"], ["x", "y"], []]), st.just(1), st.booleans()),
)
grouped = st.one_of(
    ungrouped,
    st.tuples(st.just("open_session"), st.sampled_from([f"g{i}" for i in range(1, 6)]),
              st.none(), st.sampled_from(["x", "y", None])),
    st.tuples(st.just("close_session"), st.sampled_from([f"g{i}" for i in range(6)])),
)


def outcome(shop: Assigner, command: Tuple) -> Any:
    """The command as its own batch: its events, or its error's type and message."""
    try:
        return shop.apply([command])
    except BatchAborted as exc:
        return (type(exc.__cause__).__name__, str(exc.__cause__))


def run(engine: str, strategy: Strategy, commands: list[Tuple]) -> tuple[list[Any], Any]:
    """Each command as its own batch: (its events or its error's type and message)."""
    shop = Assigner(ManualClock(0.0), engine=engine, strategy=strategy)  # type: ignore[arg-type]
    shop.apply([("add_agent", "A", Cap.limit(2), None, 1, True),
                ("add_agent", "B", Cap.limit(3), None, 2, True),
                ("add_agent", "C", Cap.limit(1), None, 1, False)])
    out = [outcome(shop, command) for command in commands]
    shop.check()
    return out, shop.snapshot()


@pytest.mark.parametrize("strategy", list(Strategy))
@given(before=st.lists(ungrouped, max_size=12), group=first_group,
       after=st.lists(grouped, max_size=12))
def test_r11_first_group_name_after_load_changes_nothing(
        strategy: Strategy, before: list[Tuple], group: Tuple, after: list[Tuple]) -> None:
    engines = [require_engine(name) for name in ENGINES]
    commands = [*before, group, *after]
    results = [run(name, strategy, commands) for name in engines]
    for other in results[1:]:
        assert other == results[0]


def columns_and_tuples(engine: str, sessions: tuple[str, ...],
                       rows: list[tuple[int, int]]) -> tuple[Any, Any]:
    """The same rows through apply_columns and through apply, on fresh shops."""
    out = []
    for columnar in (True, False):
        shop = Assigner(ManualClock(0.0), engine=engine)  # type: ignore[arg-type]
        shop.apply([("add_agent", "A", Cap.limit(1), None, 1, True)])
        shop.open_session("".join(["s", "0"]))  # an equal id, not the table's object
        try:
            if columnar:
                got: Any = list(shop.apply_columns(
                    np.array([code for code, _ in rows], np.int8),
                    np.array([handle for _, handle in rows], np.int64),
                    sessions=sessions))
            else:
                got = shop.apply([(Command(code).name.lower(), sessions[handle])
                                  for code, handle in rows])
        except BatchAborted as exc:
            got = (exc.index, type(exc.__cause__).__name__, str(exc.__cause__),
                   list(exc.events))
        shop.check()
        out.append((got, shop.snapshot()))
    return out[0], out[1]


@pytest.mark.parametrize("engine", ENGINES)
@given(rows=st.lists(st.tuples(st.sampled_from(list(Command)[:4]), st.integers(0, 2)),
                     max_size=20))
def test_r21_session_handles_follow_reopens_and_reused_slots(
        engine: str, rows: list[tuple[int, int]]) -> None:
    require_engine(engine)
    columnar, tuples = columns_and_tuples(engine, ("s0", "s1", "s2"), rows)
    assert columnar == tuples


@pytest.mark.parametrize("engine", ENGINES)
def test_r22_closed_handle_whose_slot_was_taken_is_unknown(engine: str) -> None:
    require_engine(engine)
    rows = [(Command.OPEN_SESSION, 1), (Command.BUYER_MESSAGE, 1), (Command.CLOSE_SESSION, 1),
            (Command.OPEN_SESSION, 2), (Command.BUYER_MESSAGE, 1)]
    columnar, tuples = columns_and_tuples(engine, ("s0", "s1", "s2"), rows)
    assert columnar == tuples
    assert columnar[0][:2] == (4, "UnknownSession")


@pytest.mark.parametrize("strategy", list(Strategy))
def test_r11_first_group_name_after_restore_and_diversion_changes_nothing(
        strategy: Strategy) -> None:
    """The ALL indexes wake on a restored engine, with agents filed on the offline side."""
    results = []
    for engine in ENGINES:
        require_engine(engine)
        clock = ManualClock(0.0)
        shop = Assigner(clock, engine=engine, strategy=strategy,  # type: ignore[arg-type]
                        offline_diversion=True, session_kinds={"big": 2})
        shop.apply([("add_agent", "A", Cap.limit(3), None, 1, False),
                    ("add_agent", "B", Cap.limit(2), None, 2, False),
                    ("add_agent", "C", Cap.limit(3), None, 1, True)])
        out: list[Any] = [shop.apply([("open_session", f"s{i}") for i in range(4)])]
        out.append(shop.agent_offline("C"))
        shop = Assigner.restore(shop.snapshot(), clock, engine=engine)  # type: ignore[arg-type]
        out.append(shop.open_session("g0", group="x", kind="big"))
        out.append(shop.add_agent("D", Cap.limit(2), ["x"], online=True))
        out.append(shop.open_session("g1", group="x"))
        out.append(shop.close_session("s0"))
        out.append(shop.agent_online("A"))
        shop.check()
        results.append((out, shop.snapshot()))
    for other in results[1:]:
        assert other == results[0]


ids = st.sampled_from([f"s{i}" for i in range(4)])
churn = st.one_of(
    st.tuples(st.just("open_session"), ids),
    st.tuples(st.just("open_session"), ids, st.none(), st.just("x")),
    st.tuples(st.just("close_session"), ids),
    st.tuples(st.just("set_online"), st.just("A"), st.booleans()),
)


@given(commands=st.lists(churn, max_size=25))
def test_r21_r28_ids_filed_early_keep_duplicates_refusals_and_arrival_order(
        commands: list[Tuple]) -> None:
    results = []
    for engine in ENGINES:
        require_engine(engine)
        shop = Assigner(ManualClock(0.0), engine=engine,  # type: ignore[arg-type]
                        queue_limits={"x": QueueLimit(max_waiting=1)})
        shop.apply([("add_agent", "A", Cap.limit(1), None, 1, True)])
        out: list[Any] = []
        for command in commands:
            out += [outcome(shop, command), shop.session_ids()]
        shop.check()
        results.append((out, shop.snapshot()))
    for other in results[1:]:
        assert other == results[0]


timed = st.one_of(
    st.tuples(st.just("open_session"), ids),
    st.tuples(st.just("agent_message"), ids),
    st.tuples(st.just("buyer_message"), ids),
    st.tuples(st.just("close_session"), ids),
    st.tuples(st.just("set_online"), st.sampled_from(["A", "B"]), st.booleans()),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 1.0, 2.0, 5.0])),
)


@given(commands=st.lists(timed, max_size=30), batched=st.booleans())
def test_r17_r18_timers_filed_late_fire_as_the_reference(
        commands: list[Tuple], batched: bool) -> None:
    results = []
    for engine in ENGINES:
        require_engine(engine)
        clock = ManualClock(0.0)
        shop = Assigner(clock, engine=engine,  # type: ignore[arg-type]
                        first_response_timeout=2.0, auto_close_after=5.0)
        shop.apply([("add_agent", "A", Cap.limit(2), None, 1, True),
                    ("add_agent", "B", Cap.limit(2), None, 1, True)])
        out: list[Any] = []
        batch: list[Tuple] = []
        for command in [*commands, ("advance", 0.0)]:
            if command[0] != "advance":
                batch.append(command)
                if batched:
                    continue
            try:
                out.append(shop.apply(batch))
            except BatchAborted as exc:
                out.append((exc.index, type(exc.__cause__).__name__, list(exc.events)))
            batch = []
            if command[0] == "advance":
                clock.advance(command[1])
                out.append(shop.next_deadline())
                out.append(shop.tick())
        shop.check()
        results.append((out, shop.snapshot()))
    for other in results[1:]:
        assert other == results[0]


mixed_ids = st.sampled_from([f"s{i}" for i in range(5)])
mixed = st.one_of(
    st.tuples(st.just("open_session"), mixed_ids, st.sampled_from([None, "b1"]),
              st.sampled_from([None, "x", "y"]), st.integers(0, 2)),
    st.tuples(st.just("close_session"), mixed_ids),
    st.tuples(st.just("buyer_message"), mixed_ids),
    st.tuples(st.just("agent_message"), mixed_ids, st.booleans()),
    st.tuples(st.just("tick")),
)
CODES = {"open_session": Command.OPEN_SESSION, "close_session": Command.CLOSE_SESSION,
         "buyer_message": Command.BUYER_MESSAGE, "tick": Command.TICK}
TABLES = {"buyers": ("b1",), "groups": ("x", "y"), "sessions": tuple(f"s{i}" for i in range(5))}


def as_columns(shop: Assigner, batch: list[Tuple]) -> list[Any]:
    """``batch`` through apply_columns: its events as objects."""
    def handle(table: str, value: Any) -> int:
        return -1 if value is None else TABLES[table].index(value)
    opens = [c if c[0] == "open_session" else (c[0], None, None, None, 0) for c in batch]
    return list(shop.apply_columns(
        np.array([Command.AUTO_MESSAGE if c[0] == "agent_message" and c[2]
                  else Command.AGENT_MESSAGE if c[0] == "agent_message" else CODES[c[0]]
                  for c in batch], np.int8),
        np.array([0 if c[0] == "tick" else handle("sessions", c[1]) for c in batch], np.int64),
        sessions=TABLES["sessions"], buyers=TABLES["buyers"], groups=TABLES["groups"],
        buyer=np.array([handle("buyers", c[2]) for c in opens], np.int64),
        group=np.array([handle("groups", c[3]) for c in opens], np.int64),
        priority=np.array([c[4] for c in opens], np.int64)))


@given(steps=st.lists(st.tuples(st.sampled_from(["one by one", "apply", "columns"]),
                                st.lists(mixed, min_size=1, max_size=8),
                                st.sampled_from([0.0, 1.0, 2.0, 4.0]), st.booleans()),
                      max_size=10),
       strategy=st.sampled_from(list(Strategy)))
def test_r11_r17_r18_r28_single_calls_apply_and_columns_mixed_match_the_references(
        steps: list[tuple[str, list[Tuple], float, bool]], strategy: Strategy) -> None:
    """Batches of each form, one after another, with time moving between them: late-filed
    timers, early-filed ids and one-way sifts give every engine's events and state."""
    results = []
    for engine in ENGINES:
        require_engine(engine)
        clock = ManualClock(0.0)
        shop = Assigner(clock, engine=engine, strategy=strategy,  # type: ignore[arg-type]
                        first_response_timeout=2.0, auto_close_after=3.0,
                        queue_limits={"x": QueueLimit(max_waiting=1, overflow="y"),
                                      "y": QueueLimit(max_waiting=1)})
        shop.apply([("add_agent", "A", Cap.limit(2), None, 1, True),
                    ("add_agent", "B", Cap.limit(1), ["x"], 2, True)])
        out: list[Any] = []
        for how, batch, dt, restore in steps:
            if how == "one by one":
                out.append([outcome(shop, command) for command in batch])
            else:
                try:
                    out.append(shop.apply(batch) if how == "apply" else as_columns(shop, batch))
                except BatchAborted as exc:
                    out.append((exc.index, type(exc.__cause__).__name__, str(exc.__cause__),
                                list(exc.events)))
            out.append(shop.snapshot())
            if restore:
                shop = Assigner.restore(shop.snapshot(), clock, engine=engine)  # type: ignore[arg-type]
            shop.check()
            clock.advance(dt)
            out.append(shop.next_deadline())
        results.append(out)
    for other in results[1:]:
        assert other == results[0]


# A slot's ids (a session's, an agent's) are stored without a bounds check, so the slot
# lists must be exactly as long as the slots counted even when growing them fails. Each
# allocation of the call that grows the lists fails in turn, in a child process (a crash
# there is the failure; ``memory_faults.fail_allocation`` sets and always removes the
# hook); whatever failed, the call changed nothing and every later call works. The
# sweep of every command is tests/test_memory_faults.py.
_FAILED_GROWTH = """
from memory_faults import fail_allocation, failed_in
from kefu import Assigner, Cap, ManualClock
grown = 0
for k in range(60):
    shop = Assigner(ManualClock(0.0), engine="c")
    {setup}
    outcome, exc = fail_allocation(k, lambda: {call})
    if outcome == "ok":
        continue
    assert isinstance(exc, MemoryError), repr(exc)
    grown += failed_in(exc).endswith("{grower}")
    shop.check()
    {after}
    shop.check()
print(grown)
"""
_SESSIONS = dict(
    setup="""shop.add_agent("A", Cap.limit(100), online=True)
    for i in range(8):
        shop.open_session(f"s{i}")""",
    call='shop.open_session("s8")', grower="._new_session_slot", appends=2,
    after="""assert shop.session_ids() == [f"s{i}" for i in range(8)], shop.session_ids()
    for i in range(9, 40):
        shop.open_session(f"s{i}")
    for i in range(40):
        if i != 8:
            shop.close_session(f"s{i}")
    assert shop.session_ids() == [], shop.session_ids()""")
_AGENTS = dict(
    setup="""for i in range(8):
        shop.add_agent(f"a{i}", Cap.limit(1), online=True)""",
    call='shop.add_agent("a8", Cap.limit(1), online=True)', grower="._new_agent_slot", appends=3,
    after="""assert shop.agent_ids() == [f"a{i}" for i in range(8)], shop.agent_ids()
    for i in range(9, 40):
        shop.add_agent(f"a{i}", Cap.limit(1), groups=[f"g{i % 3}"], online=True)
    for i in range(40):
        shop.open_session(f"s{i}", group=f"g{i % 3}" if i % 2 else None)
    shop.check()
    for i in range(40):
        if i != 8:
            shop.remove_agent(f"a{i}")
    assert shop.agent_ids() == [], shop.agent_ids()""")


@pytest.mark.parametrize("parts", [_SESSIONS, _AGENTS], ids=["sessions", "agents"])
def test_r22_a_failed_growth_of_the_slots_leaves_them_whole(parts: dict[str, Any]) -> None:
    require_engine("c")
    pytest.importorskip("_testcapi")
    script = _FAILED_GROWTH.replace("{setup}", parts["setup"]).replace(
        "{call}", parts["call"]).replace("{grower}", parts["grower"]).replace(
        "{after}", parts["after"])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) >= parts["appends"]  # each slot list's append failed once
