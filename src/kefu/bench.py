"""``python -m kefu bench``: the engines side by side, and every speed figure, without pytest.

Two tables. The first compares the engines on the workloads ``benchmarks/``
times with pytest-benchmark (which imports them from here), so the two
measure the same thing:

* **churn**: a steady number of open sessions; each step closes the oldest
  and opens a new one through the public API (string ids in, event objects
  out). Reported per call: half a step.
* **drain**: 2,000 sessions wait in the offline pool; the agents come online
  one by one and take them (R08, R05). Reported per session handed out.
* **replay**: one ``Assigner.apply`` over a recorded day of commands
  (opens, messages, closes, timer ticks and clock moves). Reported per command.

The second (:mod:`kefu._bench_figures`) shows each speed figure a user
waits on beside its goal and the machine's floor for the same number of
items: an open and a close through the public API, ``apply``, a simulated
peak day, ``daily_report`` from a table and from records, the live tracker.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from kefu._columns import Command
from kefu.assigner import ENGINES, Assigner
from kefu.clock import ManualClock
from kefu.model import Cap

__all__ = [
    "BenchCommand",
    "Churn",
    "as_columns",
    "backlog_shop",
    "main",
    "replay_commands",
]

BACKLOG = 2000


def _shop(engine: str, **config: Any) -> Assigner:
    return Assigner(ManualClock(0.0), engine=engine, **config)  # type: ignore[arg-type]


class Churn:
    """A shop at a steady count of open sessions; :meth:`step` closes one and opens one."""

    def __init__(self, engine: str, agents: int, open_sessions: int, cap: Cap | None = None
                 ) -> None:
        self.shop = _shop(engine, auto_close_after=None)
        shop_cap = cap if cap is not None else Cap.UNLIMITED
        commands: list[tuple[object, ...]] = [
            ("add_agent", f"agent{i}", shop_cap, None, 1, True) for i in range(agents)
        ]
        commands += [("open_session", f"warm{i}", f"buyer{i}") for i in range(open_sessions)]
        self.shop.apply(commands)
        self.live: deque[str] = deque(f"warm{i}" for i in range(open_sessions))
        self._ids = map("s{}".format, itertools.count())

    def step(self) -> None:
        live = self.live
        self.shop.close_session(live.popleft())
        sid = next(self._ids)
        self.shop.open_session(sid, sid)
        live.append(sid)


def backlog_shop(engine: str, agents: int, backlog: int = BACKLOG) -> Assigner:
    """``backlog`` sessions waiting in the offline pool; ``agents`` offline agents of cap
    ``ceil(backlog / agents)``, so bringing them all online drains the whole backlog."""
    shop = _shop(engine, auto_close_after=None)
    cap = Cap.limit(min(500, -(-backlog // agents)))
    shop.apply([("add_agent", f"agent{i}", cap) for i in range(agents)]
               + [("open_session", f"w{i}", f"b{i}") for i in range(backlog)])
    return shop


def drain(shop: Assigner) -> int:
    """Bring every agent online; returns the number of sessions handed out."""
    handed = 0
    for agent in shop.agent_ids():
        handed += len(shop.agent_online(agent))
    return handed


def replay_commands(n: int, agents: int = 200, open_sessions: int = 2000, seed: int = 1
                    ) -> list[tuple[object, ...]]:
    """About ``n`` commands of a busy shop: every 50 ms a session closes and a new one
    opens, its buyer writes and an agent answers; timers are ticked as time moves."""
    rnd = random.Random(seed)
    commands: list[tuple[object, ...]] = [
        ("add_agent", f"a{i}", Cap.limit(50), None, 1, True) for i in range(agents)
    ]
    live = [f"w{i}" for i in range(open_sessions)]
    commands += [("open_session", sid, sid) for sid in live]
    now = 0.0
    for k in itertools.count():
        if len(commands) >= n:
            break
        now += 0.05
        j = rnd.randrange(len(live))
        live[j], live[-1] = live[-1], live[j]
        sid = f"s{k}"
        commands += [
            ("at", now), ("close_session", live.pop()), ("open_session", sid, sid),
            ("buyer_message", sid), ("agent_message", sid), ("tick",),
        ]
        live.append(sid)
    return commands


def replay_shop(engine: str) -> Assigner:
    return _shop(engine, auto_close_after=3600.0, first_response_timeout=180.0)


# -- the command line ----------------------------------------------------------------


def _best_of(repeats: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeats))


def _time_churn(engine: str, agents: int, open_sessions: int, steps: int) -> float:
    churn = Churn(engine, agents, open_sessions)
    step = churn.step

    def run() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / (2 * steps)

    return _best_of(3, run)


def _time_drain(engine: str, agents: int) -> float:
    def run() -> float:
        shop = backlog_shop(engine, agents)
        start = time.perf_counter()
        handed = drain(shop)
        return (time.perf_counter() - start) / handed

    return _best_of(3, run)


def _time_replay(engine: str, commands: Sequence[tuple[object, ...]]) -> float:
    def run() -> float:
        shop = replay_shop(engine)
        start = time.perf_counter()
        shop.apply(commands)
        return (time.perf_counter() - start) / len(commands)

    return _best_of(2 if engine == "c" else 1, run)


def measure(engines: Sequence[str], agent_counts: Sequence[int], open_counts: Sequence[int],
            replay_size: int, steps: int) -> list[dict[str, Any]]:
    """Seconds per operation for each workload and engine (the naive one only where it
    finishes in reasonable time: 2,000 open sessions, and no 10^6-command replay)."""
    rows: list[dict[str, Any]] = []
    for open_sessions in open_counts:
        for agents in agent_counts:
            row: dict[str, Any] = {"workload": "open+close", "agents": agents,
                                   "open": open_sessions, "unit": "call"}
            for engine in engines:
                if engine == "naive" and open_sessions > 2000:
                    continue
                n = steps if engine == "c" else max(200, steps // (20 if engine == "py" else 200))
                row[engine] = _time_churn(engine, agents, open_sessions, n)
            rows.append(row)
    for agents in agent_counts:
        row = {"workload": "drain backlog", "agents": agents, "open": BACKLOG,
               "unit": "session"}
        for engine in engines:
            row[engine] = _time_drain(engine, agents)
        rows.append(row)
    commands = replay_commands(replay_size)
    row = {"workload": f"replay {len(commands):,} cmds", "agents": 200, "open": 2000,
           "unit": "command"}
    for engine in engines:
        if engine != "naive":
            row[engine] = _time_replay(engine, commands)
    rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]], engines: Sequence[str]) -> str:
    """ns per operation and ops/s per engine, and each engine's time over the first's."""
    base = engines[0]
    head = ["workload", "agents", "open", "per"]
    head += [f"{e} ns" for e in engines] + [f"{base} ops/s"]
    head += [f"{e}/{base}" for e in engines[1:]]
    lines = [head]
    for row in rows:
        cells = [row["workload"], str(row["agents"]), str(row["open"]), row["unit"]]
        cells += [f"{row[e] * 1e9:,.0f}" if e in row else "-" for e in engines]
        cells.append(f"{1 / row[base]:,.0f}" if base in row else "-")
        cells += [f"{row[e] / row[base]:.1f}x" if e in row and base in row else "-"
                  for e in engines[1:]]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
        for line in lines
    )


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _repeats(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 run, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m kefu bench``."""
    parser.add_argument("--engines", default=",".join(e for e in ("c", "py", "naive")
                                                       if e in ENGINES),
                        help="engines to compare, first is the base of the ratios and the "
                             "engine of the speed figures (default: %(default)s, the ones "
                             "built here)")
    parser.add_argument("--agents", type=_int_list, default=[20, 200, 2000],
                        help="agent counts (default: 20,200,2000)")
    parser.add_argument("--open", type=_int_list, default=[2000, 20000],
                        help="steady open-session counts for open+close (default: 2000,20000)")
    parser.add_argument("--replay", type=int, default=1_000_000,
                        help="commands in the batch replay (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=20_000,
                        help="close+open steps timed per churn run (default: %(default)s)")
    parser.add_argument("--only", choices=("engines", "figures"), default=None,
                        help="print only the engine table or only the speed figures "
                             "(default: both)")
    parser.add_argument("--size", type=_count, default=2_000_000,
                        help="messages of the day daily_report measures; 0 leaves it out "
                             "(default: %(default)s)")
    parser.add_argument("--live-size", type=_count, default=None,
                        help="messages of the day fed to the live tracker; 0 leaves it out "
                             "(default: --size)")
    parser.add_argument("--sim-peak", type=_count, default=2000,
                        help="concurrent buyers at the peak of the simulated day (agents: one "
                             "per 50); 0 leaves it out (default: %(default)s)")
    parser.add_argument("--staff-peak", type=_count, default=2000,
                        help="concurrent buyers at the peak of the day whose staffing "
                             "'python -m kefu staff' searches (cap 50); 0 leaves it out "
                             "(default: %(default)s)")
    parser.add_argument("--repeats", type=_repeats, default=None,
                        help="timed runs of each speed figure, the best kept (default: 3; "
                             "1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a smoke run: 200 agents, 2,000 open, 50,000 "
                             "commands; peaks of 200, 100,000 messages")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")


def run(args: argparse.Namespace) -> int:
    """Measure and print; returns the exit status."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    missing = [e for e in engines if e not in ENGINES]
    if not engines or missing:
        print(f"python -m kefu bench: unknown or unbuilt engine(s) {missing or engines}; "
              f"available here: {', '.join(ENGINES)}", file=sys.stderr)
        return 2
    agents, opens, replay, steps = args.agents, args.open, args.replay, args.steps
    size, peak, staff_peak = args.size, args.sim_peak, args.staff_peak
    if args.quick:
        agents, opens, replay, steps = [200], [2000], 50_000, 2_000
        size, peak, staff_peak = min(size, 100_000), min(peak, 200), min(staff_peak, 200)
    repeats = args.repeats
    if repeats is None:
        repeats = 1 if args.quick else 3
    live_size = size if args.live_size is None else args.live_size
    rows = [] if args.only == "figures" else measure(engines, agents, opens, replay, steps)
    figures = []
    if args.only != "engines":
        from kefu._bench_figures import measure_figures

        figures = measure_figures(engine=engines[0], steps=steps, commands=replay, peak=peak,
                                  size=size, live_size=live_size, repeats=repeats,
                                  staff_peak=staff_peak)
    if args.json:
        print(json.dumps(rows + [f.to_json() for f in figures], indent=2))
        return 0
    tables = [format_table(rows, engines)] if rows else []
    if figures:
        from kefu._bench_figures import format_figures

        tables.append(format_figures(figures))
    print("\n\n".join(tables))
    return 0


class BenchCommand:
    """``python -m kefu bench``, as a command of :mod:`kefu.__main__`."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = ("Compare the engines' speed on the benchmark workloads, then "
                              "show every speed figure beside its goal and the machine's "
                              "floor.")
        add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kefu bench", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())



_CODES = {"open_session": Command.OPEN_SESSION, "close_session": Command.CLOSE_SESSION,
          "buyer_message": Command.BUYER_MESSAGE, "tick": Command.TICK}
_TABLES = ("sessions", "agents", "buyers", "groups", "kinds")


def _row(name: object, args: list[object]) -> tuple[Command, list[object]]:
    """A command's code and (session, agent, buyer, group, priority, kind) names."""
    if name == "agent_message":
        sid, auto, sender = args + [None, False, None][len(args):]
        return (Command.AUTO_MESSAGE if auto else Command.AGENT_MESSAGE,
                [sid, sender, None, None, 0, None])
    if name == "open_session":
        sid, buyer, group, priority, kind = args + [None, None, None, 0, None][len(args):]
        return Command.OPEN_SESSION, [sid, None, buyer, group, priority, kind]
    if name in _CODES:
        return _CODES[name], [args[0] if args else None, None, None, None, 0, None]
    raise ValueError(f"apply_columns does not run {name!r}")


def as_columns(commands: Iterable[tuple[object, ...]], start: float = 0.0) -> dict[str, Any]:
    """A batch of ``Assigner.apply`` commands as ``Assigner.apply_columns`` keyword
    arguments: each row's time from the ``("at", t)`` before it (``start`` before the
    first), each name table in order of first use. Only the commands apply_columns
    runs are accepted (ValueError otherwise). O(commands)."""
    tables: dict[str, dict[object, int]] = {key: {} for key in _TABLES}
    columns: dict[str, list[Any]] = {key: [] for key in ("command", "time", "priority",
                                                         "session", "agent", "buyer", "group",
                                                         "kind")}
    at = start
    for name, *args in commands:
        if name == "at":
            at = float(args[0])  # type: ignore[arg-type]
            continue
        code, names = _row(name, args)
        columns["command"].append(code)
        columns["time"].append(at)
        columns["priority"].append(names[4])
        for key, value in zip(("session", "agent", "buyer", "group", "kind"),
                              names[:4] + names[5:], strict=True):
            table = tables[key + "s"]
            handle = -1 if value is None else table.setdefault(value, len(table))
            columns[key].append(max(handle, 0) if key == "session" else handle)
    out: dict[str, Any] = {key: list(table) for key, table in tables.items()}
    out.update({key: np.array(values, np.float64 if key == "time" else np.int64)
                for key, values in columns.items()})
    return out
