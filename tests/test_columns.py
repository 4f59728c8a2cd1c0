"""``Assigner.apply_columns``: a batch as arrays, the events as columns (R20, R21, R22, R23).

Row ``i`` of a columnar batch is the ``apply`` command it stands for (its code,
its session's id from the ``sessions`` table, the other arguments from their
tables) at time ``time[i]``. These tests pin that:

* lockstep: on every engine, random batches give exactly the events, the
  errors (index, command, cause type and message, the events before it, the
  time) and the state that ``apply`` gives for the same commands (R21, R22, R23);
* the event columns (kind, session and agent handles, time, reason) say what
  the materialised events say;
* a bad call shape (lengths, dtypes, codes or handles out of range, NaN or
  backwards times) is an InvalidArgument and changes nothing; a bad table
  entry fails its row as ``apply`` fails the same argument (R22);
* one writer (S02) and re-entrancy: a call inside a batch is ConcurrentCall; a
  batch on another Assigner inside this one's (a GC callback), or in another
  thread at once, leaves both results exact.
"""

from __future__ import annotations

import gc
import random
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, Command, EventColumns, LadderStep, ManualClock, QueueLimit
from kefu._columns import EVENT_TYPES, REASONS
from kefu.bench import as_columns, replay_commands, replay_shop
from kefu.errors import BatchAborted, ConcurrentCall, InvalidArgument

Make = Callable[..., Assigner]
Tuple = tuple[Any, ...]

#: Both timers, sticky return, kinds (R26), a queue limit that overflows g1 to g2 and
#: refuses g2 beyond two waiting (R28), a ladder on g2 (R24): every event kind can occur.
CONFIG: dict[str, Any] = {
    "first_response_timeout": 30.0,
    "auto_close_after": 60.0,
    "sticky_window": 300.0,
    "session_kinds": {"chat": 1, "dispute": 2},
    "queue_limits": {"g1": QueueLimit(max_waiting=1, overflow="g2"),
                     "g2": QueueLimit(max_waiting=2)},
    "ladders": {"g2": [LadderStep(after=20.0, groups=("g1",))]},
}
SETUP: list[Tuple] = [
    ("add_agent", "A", Cap.limit(2), ["g1"], 1, True),
    ("add_agent", "B", Cap.limit(3), None, 1, True),
    ("add_agent", "C", Cap.limit(1), ["g2"], 1, False),
]

SIDS = ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]
opt = st.sampled_from
open_cmd = st.tuples(st.just("open_session"), opt(SIDS), opt([None, "b1", "b2"]),
                     opt([None, "g1", "g2"]), st.integers(-2, 3)).flatmap(
    lambda c: st.one_of(st.just(c), opt(["chat", "dispute", "unknown"]).map(lambda k: (*c, k))))
message = st.tuples(st.just("agent_message"), opt(SIDS), st.booleans(),
                    opt([None, None, "A", "B", "Z"]))
command = st.one_of(
    open_cmd, open_cmd,
    st.tuples(opt(["close_session", "buyer_message"]), opt(SIDS)),
    message,
    st.just(("tick",)),
    st.sampled_from([0.0, 1.0, 25.0, 70.0]).map(lambda dt: ("at+", dt)),
)


def timed(commands: list[Tuple], start: float) -> list[Tuple]:
    """``("at+", dt)`` as an ``("at", t)`` command, time moving forward from ``start``;
    the trailing ones dropped (a time is a row's: columns have no bare time move)."""
    out: list[Tuple] = []
    at = start
    for c in commands:
        if c[0] == "at+":
            at += c[1]
            out.append(("at", at))
        else:
            out.append(c)
    while out and out[-1][0] == "at":
        out.pop()
    return out


def outcome(run: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", list(run()))
    except BatchAborted as exc:
        return ("aborted", exc.command, type(exc.cause), str(exc.cause), list(exc.events), exc.at)


def lockstep(engine: str, commands: list[Tuple]) -> None:
    """apply(commands) and apply_columns(the same as columns) on two fresh Assigners."""
    shops = []
    for _ in range(2):
        shop = Assigner(ManualClock(5.0), engine=engine, **CONFIG)  # type: ignore[arg-type]
        shop.apply(SETUP)
        shops.append(shop)
    by_tuples = outcome(lambda: shops[0].apply(commands))
    by_columns = outcome(lambda: shops[1].apply_columns(**as_columns(commands, start=5.0)))
    assert by_columns == by_tuples
    assert shops[1].snapshot()["state"] == shops[0].snapshot()["state"]
    assert shops[1].time == shops[0].time
    assert shops[1].next_deadline() == shops[0].next_deadline()


@given(st.lists(command, max_size=40))
def test_r23_lockstep_apply_columns_equals_apply(engine: str, batch: list[Tuple]) -> None:
    lockstep(engine, timed(batch, 5.0))


def test_r23_lockstep_bench_replay(engine: str) -> None:
    """The bench's replay: same events and state by tuples and by columns."""
    commands = _replay_commands(engine, 3000)
    setup = [c for c in commands if c[0] == "add_agent"]
    shops = [replay_shop(engine) for _ in range(2)]
    for shop in shops:
        shop.apply(setup)
    events = shops[0].apply(commands[len(setup):])
    columns = shops[1].apply_columns(**as_columns(commands[len(setup):]))
    assert len(columns) == len(events) > 0
    assert columns.events() == events
    assert shops[1].snapshot()["state"] == shops[0].snapshot()["state"]


# -- the columns --------------------------------------------------------------------------

def test_event_columns_say_what_the_events_say(make: Make) -> None:
    shop = make(**CONFIG)
    shop.apply(SETUP)
    commands = timed([("open_session", "s1", "b1", "g1", 0), ("open_session", "s2"),
                      ("open_session", "s3", None, "g1", 0), ("open_session", "s4", None, "g1"),
                      ("at+", 70.0), ("tick",), ("close_session", "s2")], 0.0)
    cols = shop.apply_columns(**as_columns(commands))
    kwargs = as_columns(commands)
    events = cols.events()
    assert isinstance(cols, EventColumns) and len(cols) == len(events) > 5
    assert [cols[i] for i in range(len(cols))] == events == cols[:]
    assert cols[-1] == events[-1]
    for bad in (len(cols), -len(cols) - 1, 10**30):
        with pytest.raises(IndexError):
            cols[bad]
    with pytest.raises(InvalidArgument):
        cols[True]  # type: ignore[call-overload]
    assert list(cols.kind) == [EVENT_TYPES.index(type(e)) for e in events]
    assert list(cols.time) == [e.at for e in events]
    assert [kwargs["sessions"][h] for h in cols.session] == [e.session_id for e in events]
    for e, agent, reason in zip(events, cols.agent, cols.reason, strict=True):
        holder = getattr(e, "agent_id", None) or getattr(e, "to_agent", None)
        assert (kwargs["agents"] + ["A", "B", "C"])[agent] == holder if agent >= 0 else (
            holder is None or holder not in kwargs["agents"])
        assert (REASONS[reason] if reason >= 0 else None) == getattr(e, "reason", None)


def test_handles_name_the_ids_of_their_tables(make: Make) -> None:
    """sessions[h] is the id: tables in any order, handles shared by many rows."""
    shop = make()
    shop.add_agent("A", online=True)
    cols = shop.apply_columns(
        np.array([Command.OPEN_SESSION, Command.OPEN_SESSION, Command.AGENT_MESSAGE,
                  Command.CLOSE_SESSION], np.int8),
        np.array([2, 0, 2, 2]), np.array([1.0, 2.0, 3.0, 3.0]),
        sessions=["x", "unused", "y"], buyer=np.array([1, -1, -1, -1], np.int32),
        buyers=["b0", "b1"], agent=np.array([-1, -1, 0, -1]), agents=["A"])
    assert [(type(e).__name__, e.session_id, e.at) for e in cols] == [
        ("Opened", "y", 1.0), ("Assigned", "y", 1.0), ("Opened", "x", 2.0),
        ("Assigned", "x", 2.0), ("Closed", "y", 3.0)]
    assert cols[0].buyer_id == "b1" and list(cols.session) == [2, 2, 0, 0, 2]
    assert shop.time == 3.0


def test_rows_without_times_run_at_the_clocks_now(make: Make, clock: ManualClock) -> None:
    clock.set(42.0)
    shop = make()
    cols = shop.apply_columns([Command.OPEN_SESSION], [0], sessions=["s1"])
    assert [e.at for e in cols] == [42.0, 42.0]
    assert len(shop.apply_columns(np.zeros(0, np.int8), None)) == 0


# -- errors -------------------------------------------------------------------------------

BAD_SHAPES: list[tuple[dict[str, Any], str]] = [
    ({"command": [0, 1], "session": [0]}, "session has 1 rows"),
    ({"command": [0], "session": [0], "time": [1.0, 2.0]}, "time has 2 rows"),
    ({"command": [0.0], "session": [0]}, "command must be a 1-d array of integers"),
    ({"command": [True], "session": [0]}, "command must be a 1-d array of integers"),
    ({"command": [[0]], "session": [0]}, "command must be a 1-d array of integers"),
    ({"command": "0", "session": [0]}, "command must be a 1-d array of integers"),
    ({"command": [6], "session": [0]}, "command holds 6"),
    ({"command": [-1], "session": [0]}, "command holds -1"),
    ({"command": [0], "session": [1]}, "session holds 1"),
    ({"command": [0], "session": [-1]}, "session holds -1"),
    ({"command": [0], "session": [2**63 + 5]}, "session holds"),
    ({"command": [0], "session": [0], "buyer": [0]}, "buyer holds 0"),
    ({"command": [0], "session": [0], "group": [-2], "groups": ["g"]}, "group holds -2"),
    ({"command": [0], "session": [0], "priority": [10**9 + 1]}, "priority holds"),
    ({"command": [0], "session": [0], "time": [float("nan")]}, "time must be finite"),
    ({"command": [0], "session": [0], "time": [float("inf")]}, "time must be finite"),
    ({"command": [5, 5], "session": [0, 0], "time": [2.0, 1.0]}, "time runs backwards at row 1"),
    ({"command": [0], "session": [0], "time": [5.0]}, "is before the Assigner's time"),
    ({"command": [0], "session": [0], "time": ["x"]}, "time must be a 1-d array of numbers"),
    ({"command": [0], "session": [0], "sessions": "s1"}, "sessions must be a sequence"),
    ({"command": [0], "session": [0], "sessions": 5}, "sessions must be a sequence"),
    ({"command": [0], "session": [0], "sessions": []}, "sessions is empty"),
]


@pytest.mark.parametrize(("call", "message"), BAD_SHAPES)
def test_r22_bad_call_shape_is_invalid_argument_and_changes_nothing(
        make: Make, clock: ManualClock, call: dict[str, Any], message: str) -> None:
    clock.set(10.0)
    shop = make()
    shop.apply([("add_agent", "A", Cap.UNLIMITED, None, 1, True), ("open_session", "w")])
    before, time = shop.snapshot()["state"], shop.time
    call = {"sessions": ["s1"], **call}
    with pytest.raises(InvalidArgument, match=message):
        shop.apply_columns(**call)
    assert shop.snapshot()["state"] == before and shop.time == time


class Hostile(str):
    def __hash__(self) -> int:
        raise RuntimeError("no hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")


@pytest.mark.parametrize("entry", ["", 5, b"s", Hostile("s9"), float("nan")])
def test_r22_bad_table_entry_fails_its_row_as_apply_fails_it(make: Make, entry: object) -> None:
    """The rows before it stay applied; its error is the one apply gives for that argument."""
    def by_columns(shop: Assigner) -> object:
        return shop.apply_columns([Command.OPEN_SESSION, Command.OPEN_SESSION], [0, 1],
                                  sessions=["s1", "s2"], buyer=[-1, 0], buyers=[entry])

    def by_tuples(shop: Assigner) -> object:
        return shop.apply([("open_session", "s1", None, None, 0),
                           ("open_session", "s2", entry, None, 0)])

    results = []
    for run in (by_tuples, by_columns):
        shop = make()
        shop.add_agent("A", online=True)
        with pytest.raises(BatchAborted) as info:
            run(shop)
        cause = info.value.cause
        results.append((type(cause), str(cause), list(info.value.events),
                        shop.snapshot()["state"]))
        assert isinstance(cause, InvalidArgument)
    assert results[0] == results[1]


@pytest.mark.parametrize("entry", ["", 7, Hostile("s9")])
def test_r22_bad_session_entry_fails_its_row(make: Make, entry: object) -> None:
    shop = make()
    with pytest.raises(BatchAborted) as info:
        shop.apply_columns([Command.OPEN_SESSION, Command.CLOSE_SESSION], [0, 1],
                           sessions=["s1", entry])
    assert info.value.index == 1 and info.value.command == ("close_session", entry)
    assert isinstance(info.value.cause, InvalidArgument)
    assert isinstance(info.value.events, EventColumns) and len(info.value.events) == 2
    assert shop.session_ids() == ["s1"]


def test_r22_failing_row_keeps_the_rows_before_it(make: Make) -> None:
    shop = make()
    shop.add_agent("A", online=True)
    with pytest.raises(BatchAborted) as info:
        shop.apply_columns([Command.OPEN_SESSION, Command.CLOSE_SESSION, Command.CLOSE_SESSION],
                           [0, 0, 0], [1.0, 2.0, 3.0], sessions=["s1"])
    exc = info.value
    assert (exc.index, exc.command, exc.at) == (2, ("close_session", "s1"), 3.0)
    assert [type(e).__name__ for e in exc.events] == ["Opened", "Assigned", "Closed"]
    assert shop.session_ids() == [] and shop.time == 3.0


# -- one writer and re-entrancy (S02) ------------------------------------------------------

def test_s02_reentrant_call_from_a_table_is_concurrent_call(make: Make) -> None:
    shop = make()

    class Table(list[str]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            shop.open_session("inner")
            return super().__iter__()

    with pytest.raises(ConcurrentCall):
        shop.apply_columns([Command.OPEN_SESSION], [0], sessions=Table(["s1"]))
    assert shop.session_ids() == []


def _replay_commands(engine: str, n: int) -> list[Tuple]:
    """The bench's replay of about ``n`` commands; for the naive engine, a small shop's
    (20 agents, 200 open sessions): it scans every agent and session per command (the
    full shop's 2,200 commands took it 5 s), and the small shop takes the same paths."""
    if engine == "naive":
        return replay_commands(600, agents=20, open_sessions=200)
    return replay_commands(n)


def _replay(engine: str, n: int) -> tuple[Assigner, dict[str, Any], list[Any]]:
    """A replay shop after its setup, the rest of the replay as columns, and its events."""
    commands = _replay_commands(engine, n)
    setup = [c for c in commands if c[0] == "add_agent"]
    rest = commands[len(setup):]
    reference = replay_shop(engine)
    reference.apply(setup)
    expected = reference.apply(rest)
    shop = replay_shop(engine)
    shop.apply(setup)
    return shop, as_columns(rest), expected


def _busy_batch(seed: int, n: int) -> list[Tuple]:
    """``n`` random commands that all succeed on the lockstep shop (ladders, limits and
    timers all busy): a candidate that fails on a scratch shop is left out."""
    rnd = random.Random(seed)
    scratch = Assigner(ManualClock(5.0), engine="py", **CONFIG)  # type: ignore[arg-type]
    scratch.apply(SETUP)
    out: list[Tuple] = []
    at = 5.0
    while len(out) < n:
        pick, sid = rnd.random(), f"s{rnd.randrange(40)}"
        if pick < 0.4:
            candidate: Tuple = ("open_session", sid, rnd.choice([None, "b1", "b2"]),
                                rnd.choice([None, "g1", "g2"]), 0)
        elif pick < 0.6:
            candidate = ("close_session", sid)
        elif pick < 0.7:
            candidate = ("agent_message", sid, True, None)
        elif pick < 0.85:
            candidate = ("tick",)
        else:
            at += rnd.choice([1.0, 10.0, 25.0])
            candidate = ("at", at)
        try:
            scratch.apply([candidate])
        except BatchAborted:
            continue
        out.append(candidate)
    return timed(out, 5.0)


def _expect(engine: str, commands: list[Tuple]) -> tuple[Assigner, tuple[Any, ...]]:
    """A fresh lockstep shop after SETUP, and the outcome apply gives for ``commands``."""
    shops = []
    for _ in range(2):
        shop = Assigner(ManualClock(5.0), engine=engine, **CONFIG)  # type: ignore[arg-type]
        shop.apply(SETUP)
        shops.append(shop)
    return shops[1], outcome(lambda: shops[0].apply(commands))


def _with_inner_batches(engine: str, seed: int, n: int, every: int, most: int
                        ) -> tuple[tuple[Any, ...], tuple[Any, ...], list[bool]]:
    """Run ``n`` busy commands as one columnar batch while a GC callback runs another
    Assigner's batch at every ``every``-th collection (``most`` of them). Returns the
    batch's outcome, apply's for the same commands, and whether each inner batch was
    exact."""
    commands = _busy_batch(seed, n)
    outer, expected = _expect(engine, commands)
    columns = as_columns(commands, 5.0)
    inner_commands = _busy_batch(seed + 1, 10)
    inner_columns = as_columns(inner_commands, 5.0)
    inner_expected = _expect(engine, inner_commands)[1]
    inner_ok: list[bool] = []
    starts = [0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        starts[0] += phase == "start"
        if phase == "start" and starts[0] % every == 0 and len(inner_ok) < most:
            inner = _expect(engine, [])[0]
            inner_ok.append(outcome(lambda: inner.apply_columns(**inner_columns))
                            == inner_expected)

    threshold = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1)
    try:
        got = outcome(lambda: outer.apply_columns(**columns))
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)
    return got, expected, inner_ok


def test_s02_a_batch_inside_a_batch_leaves_both_exact(engine: str) -> None:
    """A GC callback runs another Assigner's batch in the middle of this one's rows: each
    batch's events stay its own, in order (on the compiled engine each engine stores
    only its own events in its running batch's rows)."""
    got, expected, inner_ok = _with_inner_batches(engine, 1, 1500, 1, 600)
    assert len(inner_ok) == 600 and all(inner_ok)
    assert got == expected


def test_s02_batches_inside_a_long_batch_leave_both_exact(engine: str) -> None:
    """As above, but the inner batches are spread along a batch of thousands of events
    (R23: the events still equal apply's, in order)."""
    got, expected, inner_ok = _with_inner_batches(engine, 3, 4000, 40, 150)
    assert len(inner_ok) >= 100 and all(inner_ok)
    assert got == expected
    assert expected[0] == "ok" and len(expected[1]) > 2048


def test_s02_batches_in_two_threads_at_once_stay_exact(engine: str) -> None:
    require_engine(engine)
    runs = [_replay(engine, 4000) for _ in range(2)]
    results: list[bool] = [False, False]

    def run(k: int) -> None:
        shop, cols, expected = runs[k]
        results[k] = shop.apply_columns(**cols).events() == expected

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True, True]


@pytest.mark.parametrize(("column", "value", "message"), [
    ("session", 10**6, "session holds 1000000"),
    ("buyer", -7, "buyer holds -7"),
    ("command", 9, "command holds 9"),
    ("time", float("nan"), "nan"),
])
def test_s02_a_column_changed_while_the_batch_runs_fails_a_row_never_crashes(
        engine: str, column: str, value: object, message: str) -> None:
    """The caller's arrays are read in place: another thread (here a GC callback) that
    writes a bad value into one mid-batch fails the row that reads it, the rows before
    it applied, the shop consistent."""
    commands = _busy_batch(3, 1500)
    shop, expected = _expect(engine, commands)
    columns = as_columns(commands, 5.0)
    columns["command"] = columns["command"].astype(np.int8)  # the engine's layouts: not copied
    calls = [0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        calls[0] += 1
        if calls[0] == 100:
            columns[column][:] = value

    threshold = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1)
    try:
        with pytest.raises(BatchAborted) as info:
            shop.apply_columns(**columns)
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)
    exc = info.value
    assert isinstance(exc.cause, InvalidArgument) and message in str(exc.cause)
    assert 0 <= exc.index < len(columns["command"])
    assert list(exc.events) == expected[1][:len(exc.events)]
    shop.check()


# -- review: what the columns owe apply on every engine ------------------------------------

def test_empty_columns_as_lists_are_an_empty_batch(make: Make) -> None:
    """numpy reads ``[]`` as float64: an empty column holds no value of a wrong type, so
    a batch of no rows given as lists runs (as ``apply([])``) on every engine."""
    shop = make()
    assert shop.apply([]) == []
    assert len(shop.apply_columns([], [])) == 0
    assert len(shop.apply_columns([], [], [], sessions=["s1"], buyer=[], priority=[])) == 0
    with pytest.raises(InvalidArgument, match="command must be a 1-d array of integers"):
        shop.apply_columns([0.5], [0], sessions=["s1"])


def test_event_columns_pickle_and_deepcopy_on_every_engine(make: Make) -> None:
    """EventColumns is a result a caller may ship to another process or copy: on the
    compiled engine too (its events kept as rows), it pickles to the same events."""
    import copy
    import pickle

    shop = make()
    shop.add_agent("A", online=True)
    cols = shop.apply_columns([Command.OPEN_SESSION, Command.OPEN_SESSION], [0, 1],
                              sessions=["s1", "s2"])
    for twin in (pickle.loads(pickle.dumps(cols)), copy.deepcopy(cols)):
        assert twin.events() == cols.events() and len(twin) == 4
        assert list(twin.session) == list(cols.session) == [0, 0, 1, 1]


class _Meddler:
    """A column whose ``__array__`` (run while the call is parsed, after the columns
    before it were checked) writes into the caller's own arrays, as another thread may."""

    def __init__(self, n: int, writes: list[tuple[Any, int, Any]]) -> None:
        self.n = n
        self.writes = writes

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        for array, row, value in self.writes:
            array[row] = value
        return np.zeros(self.n, np.int64)


@pytest.mark.parametrize(("value", "message"), [
    (float("nan"), "('at', seconds) needs finite seconds, got nan"),
    (float("inf"), "('at', seconds) needs finite seconds, got inf"),
    (1.0, "('at', 1.0) is before the batch's time 2.0"),
])
def test_time_changed_under_the_batch_fails_its_row_with_applys_error(
        make: Make, value: float, message: str) -> None:
    """A time that went bad after the call was checked fails its row with the error
    ``apply`` gives that ``("at", t)``, the same on every engine."""
    times = np.array([2.0, 3.0, 4.0])
    shop = make()
    shop.add_agent("A", online=True)
    with pytest.raises(BatchAborted) as info:
        shop.apply_columns([Command.OPEN_SESSION] * 3, [0, 1, 2], times,
                           sessions=["s1", "s2", "s3"],
                           priority=_Meddler(3, [(times, 1, value)]))
    exc = info.value
    assert (exc.index, type(exc.cause), str(exc.cause)) == (1, InvalidArgument, message)
    assert len(exc.events) == 2 and shop.session_ids() == ["s1"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"buyer": -7, "kind": -9}, "buyer holds -7"),
    ({"group": -5, "kind": -9}, "group holds -5"),
    ({"command": 9, "session": 10**6}, "command holds 9"),
])
def test_several_handles_changed_under_the_batch_fail_in_one_order(
        make: Make, bad: dict[str, int], message: str) -> None:
    """Values that went bad after the call was checked are read in one order on every
    engine (the code, then the session, then the arguments in ``apply``'s order), so
    the row's error is the same."""
    columns: dict[str, Any] = {
        "command": np.array([Command.OPEN_SESSION] * 2, np.int8),
        "session": np.array([0, 1]), "buyer": np.array([-1, -1]),
        "group": np.array([-1, -1]), "kind": np.array([-1, -1])}
    writes = [(columns[key], 1, value) for key, value in bad.items()]
    shop = make(session_kinds={"chat": 1})
    with pytest.raises(BatchAborted) as info:
        shop.apply_columns(**columns, time=[1.0, 2.0], sessions=["s1", "s2"], buyers=["b"],
                           groups=["g"], kinds=["chat"], priority=_Meddler(2, writes))
    exc = info.value
    assert exc.index == 1 and isinstance(exc.cause, InvalidArgument)
    assert str(exc.cause).startswith(message)
