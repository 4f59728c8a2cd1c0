"""``python -m kefu simulate`` and ``python -m kefu staff``: options, checks, output.

Every option is parsed by a small type function that turns bad input into
a one-line message (argparse prints it with the usage and exits 2); values
that only make sense together (groups vs agents, a CSV's contents) are
checked when the config is built, and reported the same way. No option
error ever ends in a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import attrs

import kefu
from kefu.assigner import ENGINES
from kefu.kpi import InvalidWindow, Window
from kefu.model import MAX_CAP, Strategy
from kefu.sim import plot as plotting
from kefu.sim.config import HANDOFFS, MAX_AGENTS, ShopPlan, SimConfig, parse_shifts
from kefu.sim.dist import Dist
from kefu.sim.driver import simulate
from kefu.sim.errors import SimConfigError
from kefu.sim.progress import ProgressBar
from kefu.sim.report import config_json, describe_config, format_report, measure, within
from kefu.sim.staffing import DayFigures, Point, StaffResult, Theory, find_staff
from kefu.sim.workload import Profile, Workload, expected_duration, for_peak

__all__ = ["DEFAULT_AGENTS", "DEFAULT_PEAK", "SIMULATE", "STAFF", "build_config"]

#: Default concurrent buyers at the peak: source 002's threshold of a very busy shop
#: ("接入人数超过500人"); a full day of it takes seconds on the Python engine.
DEFAULT_PEAK = 500.0
#: Default agents for ``simulate``: 50 buyers per agent at the peak, as with cap 50.
DEFAULT_AGENTS = 10

_WL = Workload(profile=Profile.flat(1.0))  # the workload defaults, for help texts
_SHOP = ShopPlan(agents=DEFAULT_AGENTS)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout; every option's help states its default itself."""


def _type(name: str, fn: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type whose errors read ``--option: why``, never a traceback."""

    def parse(text: str) -> Any:
        try:
            return fn(text)
        except SimConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None

    parse.__name__ = name
    return parse


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise SimConfigError(f"expected a whole number {lo}..{hi}, got {text!r}") from None
        if not lo <= n <= hi:
            raise SimConfigError(f"expected a whole number {lo}..{hi}, got {text!r}")
        return n

    return parse


def _share(text: str) -> float:
    x = _number(text)
    if not 0 <= x <= 1:
        raise SimConfigError(f"expected a share between 0 and 1 (e.g. 0.9), got {text!r}")
    return x


def _number(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise SimConfigError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise SimConfigError(f"expected a finite number, got {text!r}")
    return x


def _positive(text: str) -> float:
    x = _number(text)
    if x <= 0:
        raise SimConfigError(f"expected a number > 0, got {text!r}")
    return x


def _non_negative(text: str) -> float:
    x = _number(text)
    if x < 0:
        raise SimConfigError(f"expected a number >= 0, got {text!r}")
    return x


def _seconds_or_off(text: str) -> float | None:
    if text.strip().lower() in ("off", "none", "0"):
        return None
    x = _number(text)
    if x <= 0:
        raise SimConfigError(f"expected seconds > 0, or 0/off, got {text!r}")
    return x


def _cap(text: str) -> int | None:
    if text.strip().lower() == "unlimited":
        return None
    return _int_range(1, MAX_CAP)(text)


def _dist(default: Dist) -> Callable[[str], Dist]:
    return lambda text: Dist.parse(text, default)


def _patience(text: str) -> Dist | None:
    if text.strip().lower() in ("none", "off", "inf"):
        return None
    assert _WL.patience is not None
    return Dist.parse(text, _WL.patience)


def _strategy(text: str) -> Strategy:
    try:
        return Strategy(text.strip().lower().replace("-", "_"))
    except ValueError:
        names = ", ".join(s.value for s in Strategy)
        raise SimConfigError(f"unknown strategy {text!r}: use one of {names}") from None


def _groups(text: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in text.split(","):
        name, sep, share = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SimConfigError(f"bad group {part.strip()!r}: use NAME=SHARE, e.g. presale=7")
        out.append((name, _positive(share)))
    return tuple(out)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise SimConfigError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _window(text: str) -> Window:
    try:
        a, b = text.split("-")
        start, end = dt.time.fromisoformat(a.strip()), _end_time(b.strip())
    except ValueError:
        raise SimConfigError(
            f"expected a window HH:MM-HH:MM (24:00 = midnight), got {text!r}"
        ) from None
    try:
        return Window(start, end)
    except InvalidWindow as exc:
        raise SimConfigError(f"bad window {text!r}: {exc}") from None


def _end_time(text: str) -> dt.time:
    return dt.time(0) if text in ("24:00", "24:00:00") else dt.time.fromisoformat(text)


def _profile(text: str) -> str:
    if not text.strip():
        raise SimConfigError("expected promo, flat or a CSV file")
    return text.strip()


def _add_common(p: argparse.ArgumentParser, *, staff: bool) -> None:
    wl, shop = _WL, _SHOP
    g = p.add_argument_group("shop")
    if not staff:
        g.add_argument("--agents", type=_type("agents", _int_range(1, MAX_AGENTS)),
                       default=DEFAULT_AGENTS,
                       help="agents on the shop's roster (default: %(default)s)")
    g.add_argument("--cap", type=_type("cap", _cap), default=shop.cap,
                   help=f"max reception per agent, 1..{MAX_CAP} or 'unlimited' "
                        "(default: %(default)s)")
    g.add_argument("--strategy", type=_type("strategy", _strategy), default=shop.strategy,
                   metavar="{least_load,round_robin,weighted}",
                   help="assignment strategy, R11 (default: least_load)")
    g.add_argument("--groups", type=_type("groups", _groups), default=(),
                   metavar="NAME=SHARE,...",
                   help="skill groups and their share of sessions, e.g. presale=7,aftersale=3; "
                        "agents are split in the same proportion (default: no groups)")
    g.add_argument("--offline-diversion", action="store_true",
                   help="R09: when nobody of a group is on line, assign to off-line agents, who "
                        "answer when their shift starts (default: off)")
    g.add_argument("--auto-close", type=_type("auto-close", _seconds_or_off),
                   default=shop.auto_close, metavar="SECONDS",
                   help="close a session after this long without a buyer message, R17; 0 = off "
                        "(default: %(default)g)")
    g.add_argument("--first-response-timeout", type=_type("timeout", _seconds_or_off),
                   default=None, metavar="SECONDS",
                   help="reassign a session whose agent has not answered within this, R18; "
                        "0 = off (default: off)")
    g.add_argument("--shifts", type=_type("shifts", parse_shifts), default=shop.shifts,
                   metavar="HH:MM-HH:MM[@W],...",
                   help="shift plan: agents are dealt to shifts by weight W, e.g. "
                        "00:00-08:00@1,08:00-17:00@3,13:00-24:00@6; a shift ending at 24:00 "
                        "works until the last session closes (default: 00:00-24:00)")
    g.add_argument("--handoff", choices=HANDOFFS, default=shop.handoff,
                   help="at a shift's end: 'finish' = answer the open sessions, take no new "
                        "ones; 'requeue' = give them back to the queue, R15 (default: %(default)s)")

    w = p.add_argument_group("workload")
    w.add_argument("--profile", type=_type("profile", _profile), default="promo",
                   metavar="{promo,flat,FILE.csv}",
                   help="arrivals over the day: 'promo' (built-in promotion day, peak at "
                        "21:00), 'flat', or a CSV of arrivals per minute (one number per row "
                        "from 00:00, or minute,arrivals rows with minute 0..1439 or HH:MM) "
                        "(default: %(default)s)")
    w.add_argument("--peak", type=_type("peak", _positive), default=None,
                   help=f"concurrent buyers at the busiest minute; scales the profile "
                        f"(default: {DEFAULT_PEAK:g} for promo and flat; a CSV is used as "
                        "given unless --peak is set)")
    w.add_argument("--rounds", type=_type("rounds", _dist(wl.rounds)), default=wl.rounds,
                   metavar="DIST", help="buyer questions per session (default: %(default)s)")
    w.add_argument("--buyer-gap", type=_type("buyer-gap", _dist(wl.buyer_gap)),
                   default=wl.buyer_gap, metavar="DIST",
                   help="buyer think time in seconds between an answer and the next question "
                        "(default: %(default)s)")
    w.add_argument("--reply-delay", type=_type("reply-delay", _dist(wl.reply_delay)),
                   default=wl.reply_delay, metavar="DIST",
                   help="an idle agent's reply delay in seconds (default: %(default)s)")
    w.add_argument("--load-slowdown", type=_type("load-slowdown", _non_negative),
                   default=wl.load_slowdown, metavar="X",
                   help="reply delay x (1 + X x open chats): 0.04 makes an agent with 50 chats "
                        "3x slower than an idle one (default: %(default)s)")
    w.add_argument("--patience", type=_type("patience", _patience), default=wl.patience,
                   metavar="DIST|none",
                   help="seconds a buyer waits in a pool before giving up (default: %(default)s)")
    w.add_argument("--bot-share", type=_type("bot-share", _share), default=wl.bot_share,
                   metavar="SHARE", help="sessions a bot answers first (default: %(default)s)")
    w.add_argument("--bot-time", type=_type("bot-time", _dist(wl.bot_time)),
                   default=wl.bot_time, metavar="DIST",
                   help="seconds with the bot before asking for a human, 转人工 "
                        "(default: %(default)s)")
    w.add_argument("--bot-resolve", type=_type("bot-resolve", _share), default=wl.bot_resolve,
                   metavar="SHARE",
                   help="of the bot's sessions, the share it serves to the end "
                        "(default: %(default)s)")
    w.add_argument("--agent-close", type=_type("agent-close", _share), default=wl.agent_close,
                   metavar="SHARE",
                   help="sessions the agent closes after the last answer; the rest wait for "
                        "auto close (default: %(default)s)")
    w.add_argument("--close-delay", type=_type("close-delay", _dist(wl.close_delay)),
                   default=wl.close_delay, metavar="DIST",
                   help="seconds from the last answer to the agent's close (default: %(default)s)")
    w.add_argument("--rate-share", type=_type("rate-share", _share), default=wl.rate_share,
                   metavar="SHARE",
                   help="sessions whose buyer rates the service (default: %(default)s)")

    k = p.add_argument_group("day and KPIs")
    k.add_argument("--day", type=_type("day", _day), default=dt.date(2026, 11, 11),
                   metavar="YYYY-MM-DD", help="the simulated local day (default: %(default)s)")
    k.add_argument("--tz", default="Asia/Shanghai",
                   help="the shop's timezone (default: %(default)s)")
    k.add_argument("--window", type=_type("window", _window), default=Window.default(),
                   metavar="HH:MM-HH:MM",
                   help="assessment window: only buyers who first write inside it count in "
                        "the reply rate (default: 08:00-23:00)")
    k.add_argument("--threshold", type=_type("threshold", _positive), default=180.0,
                   metavar="SECONDS", help="reply-rate threshold (default: %(default)g)")

    r = p.add_argument_group("run")
    r.add_argument("--seed", type=_type("seed", _int_range(0, 2**63 - 1)), default=1,
                   help="random seed: the same seed gives the same day "
                        + ("(default: %(default)s)" if not staff else
                           "(default: %(default)s; seeds SEED .. SEED+SEEDS-1 are used)"))
    r.add_argument("--engine", choices=("auto", "c", "py"), default="auto",
                   help="Assigner engine: auto = compiled if built (default: %(default)s)")
    r.add_argument("--json", action="store_true",
                   help="print one JSON object instead of tables (default: off)")
    r.add_argument("--plot", metavar="FILE.png", default=None,
                   help="also draw a chart (needs matplotlib: pip install 'kefu[plot]') "
                        "(default: none)")
    r.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is only drawn on a terminal anyway) "
                        "(default: off)")


def build_config(args: argparse.Namespace, agents: int) -> SimConfig:
    """The SimConfig the parsed options describe (SimConfigError if they do not fit)."""
    if args.engine != "auto" and args.engine not in ENGINES:
        raise SimConfigError(
            f"--engine {args.engine}: that engine is not available in this install "
            "(the compiled one needs a build with Cython; use --engine py)"
        )
    shop = ShopPlan(
        agents=agents, cap=args.cap, strategy=args.strategy,
        offline_diversion=args.offline_diversion, auto_close=args.auto_close,
        first_response_timeout=args.first_response_timeout, shifts=args.shifts,
        handoff=args.handoff,
    )
    base = Workload(
        profile=Profile.flat(1.0), rounds=args.rounds, buyer_gap=args.buyer_gap,
        reply_delay=args.reply_delay, load_slowdown=args.load_slowdown, patience=args.patience,
        bot_share=args.bot_share, bot_time=args.bot_time, bot_resolve=args.bot_resolve,
        agent_close=args.agent_close, close_delay=args.close_delay, rate_share=args.rate_share,
        groups=args.groups,
    )
    name = args.profile
    if name.lower() in ("promo", "flat"):
        shape = Profile.promo(1.0) if name.lower() == "promo" else Profile.flat(1.0)
        peak = args.peak if args.peak is not None else DEFAULT_PEAK
    else:
        shape = Profile.from_csv(name)
        peak = args.peak
    duration = expected_duration(base, shop.auto_close)
    profile = shape if peak is None else for_peak(shape, peak, duration)
    return SimConfig(
        workload=attrs.evolve(base, profile=profile), shop=shop, seed=args.seed, day=args.day,
        tz=args.tz, window=args.window, threshold=args.threshold,
    )


def _clean(value: Any) -> Any:
    """JSON without NaN or infinity (not valid JSON): such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(_clean(data), indent=2, ensure_ascii=False) + "\n")


class _Command:
    """Shared plumbing: keep the parser so late errors are reported like option errors."""

    parser: argparse.ArgumentParser | None = None

    def fail(self, message: str) -> NoReturn:
        assert self.parser is not None
        self.parser.error(message)


class SimulateCommand(_Command):
    """``simulate``: one day through the Assigner, measured by kefu.kpi."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        parser.formatter_class = _Formatter
        parser.description = (
            "Simulate one day of a shop's customer service: buyers arrive by the profile, "
            "the real kefu.Assigner routes them on a manual clock, and kefu.kpi measures the "
            "day (3-minute reply rate, satisfaction, response times), with queue lengths and "
            "waits by hour."
        )
        parser.epilog = (
            "distributions (DIST): a number (the default kind centred there), const:V, exp:MEAN,\n"
            "  lognormal:MEDIAN:SIGMA, uniform:LO:HI, geometric:MEAN (whole numbers >= 1)\n\n"
            "examples:\n"
            "  python -m kefu simulate\n"
            "  python -m kefu simulate --agents 40 --cap 50 --peak 2000 --seed 1 --json\n"
            "  python -m kefu simulate --profile arrivals.csv --shifts 08:00-17:00,13:00-24:00@2"
        )
        _add_common(parser, staff=False)

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = build_config(args, args.agents)
            if args.plot:
                plotting.check_target(args.plot)
        except SimConfigError as exc:
            self.fail(str(exc))
        bar = ProgressBar("simulating", enabled=not args.no_progress)
        result = simulate(config, engine=args.engine, progress=bar)
        bar.status(f"measuring {result.sessions:,} sessions with kefu.kpi ...")
        report = measure(result)
        bar.clear()
        if args.plot:
            try:
                plotting.plot_day(result, report, args.plot)
            except OSError as exc:
                self.fail(f"--plot: cannot write {args.plot!r}: {exc.strerror or exc}")
        if args.json:
            _emit_json(report.to_json())
        else:
            print(format_report(report))
            if args.plot:
                print(f"\nchart written to {args.plot}")
        return 0


class StaffCommand(_Command):
    """``staff``: the fewest agents meeting a reply-rate target on several seeds."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        parser.formatter_class = _Formatter
        parser.description = (
            "Search the fewest agents (at the given cap) whose simulated day keeps the shop's "
            "3-minute reply rate at or above --target on every one of --seeds days, and show "
            "the curve of reply rate against agents. Each level is one simulated day per seed; "
            "the search runs the first seed only, then every seed at the level it found."
        )
        parser.epilog = (
            "examples:\n"
            "  python -m kefu staff\n"
            "  python -m kefu staff --target 0.9 --cap 50 --peak 2000 --json\n"
            "  python -m kefu staff --target 0.95 --max-abandon 0.02 --shifts "
            "08:00-17:00,13:00-24:00@2"
        )
        s = parser.add_argument_group("search")
        s.add_argument("--target", type=_type("target", _share), default=0.9,
                       help="3-minute reply rate to reach, as a share (default: %(default)s)")
        s.add_argument("--seeds", type=_type("seeds", _int_range(1, 100)), default=3,
                       help="simulated days per staffing level; the worst one counts "
                            "(default: %(default)s)")
        s.add_argument("--min-agents", type=_type("min-agents", _int_range(1, MAX_AGENTS)),
                       default=1, help="smallest staffing tried (default: %(default)s)")
        s.add_argument("--max-agents", type=_type("max-agents", _int_range(1, MAX_AGENTS)),
                       default=500, help="largest staffing tried (default: %(default)s)")
        s.add_argument("--max-abandon", type=_type("max-abandon", _share), default=None,
                       metavar="SHARE",
                       help="also require at most this share of buyers to give up waiting "
                            "for an agent (default: off)")
        _add_common(parser, staff=True)

    def run(self, args: argparse.Namespace) -> int:
        if args.target <= 0:
            self.fail("argument --target: must be above 0")
        if args.min_agents > args.max_agents:
            self.fail(f"--min-agents {args.min_agents} is above --max-agents {args.max_agents}")
        min_agents = max(args.min_agents, len(args.groups))  # one agent per group at least
        if min_agents > args.max_agents:
            self.fail(f"--max-agents {args.max_agents} cannot cover {len(args.groups)} groups")
        try:
            config = build_config(args, min_agents)
            if args.plot:
                plotting.check_target(args.plot)
        except SimConfigError as exc:
            self.fail(str(exc))
        seeds = [args.seed + i for i in range(args.seeds)]
        bar = ProgressBar("staff", enabled=not args.no_progress)

        def on_run(agents: int, seed: int) -> None:
            bar.status(f"  simulating {_agents(agents)}, seed {seed} ...")

        def on_point(p: Point) -> None:
            rates = ", ".join(_pct(r) for r in p.rates)
            bar.note(f"  {_agents(p.agents)}: {rates} ({_verdict(p, len(seeds))}; "
                     f"{p.seconds:.1f} s)")

        try:
            result = find_staff(
                config, target=args.target, seeds=seeds, min_agents=min_agents,
                max_agents=args.max_agents, max_abandon=args.max_abandon, engine=args.engine,
                on_point=on_point, on_run=on_run,
            )
        except SimConfigError as exc:
            self.fail(str(exc))
        if args.plot:
            try:
                plotting.plot_staffing(result, args.plot)
            except OSError as exc:
                self.fail(f"--plot: cannot write {args.plot!r}: {exc.strerror or exc}")
        if args.json:
            _emit_json(staff_json(result, config))
        else:
            print(format_staff(result, config))
            if args.plot:
                print(f"\nchart written to {args.plot}")
        return 0 if result.agents is not None else 1


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _verdict(p: Point, seeds: int) -> str:
    if p.meets is None:
        return f"meets ({len(p.rates)} of {seeds} days run)"
    return "meets" if p.meets else "misses"


def _agents(n: int) -> str:
    return f"{n} agent" if n == 1 else f"{n} agents"


def _theory_json(t: Theory | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"model": t.model, "servers": t.servers, "load": t.load, "p_wait": t.p_wait,
            "p_abandon": t.p_abandon, "served_within_threshold": t.served_within,
            "mean_wait": t.mean_wait}


def _simulated_json(days: tuple[DayFigures, ...]) -> dict[str, Any]:
    """Each seed's figures, in seed order (lists as long as the seeds run at the level)."""
    return {
        "reply_rate": [d.reply_rate for d in days],
        "gave_up": [d.gave_up for d in days],
        "waited": [d.waited for d in days],
        "mean_wait": [d.mean_wait for d in days],
        "busiest_hour": {"gave_up": [d.peak_gave_up for d in days],
                         "waited": [d.peak_waited for d in days],
                         "mean_wait": [d.peak_mean_wait for d in days]},
    }


def staff_json(result: StaffResult, config: SimConfig) -> dict[str, Any]:
    """``staff --json``: the answer, the rate there, and the whole curve.

    Beside the simulated figures: ``theory`` (queueing theory for the answer
    at the busiest minute: Erlang A when buyers have a patience, else Erlang
    C) and ``simulated`` (each seed's day and busiest-hour figures).
    """
    at = result.point(result.agents) if result.agents is not None else None
    below = result.point(result.agents - 1) if result.agents is not None else None
    cfg = config_json(config)
    del cfg["agents"], cfg["seed"]
    return {
        "agents": result.agents,
        "cap": result.cap,
        "target": result.target,
        "max_abandon": result.max_abandon,
        "reply_rate": at.rate if at is not None else None,
        "reply_rates": list(at.rates) if at is not None else None,
        "gave_up": at.worst_gave_up if at is not None else None,
        "one_fewer": (
            {"agents": below.agents, "reply_rate": below.rate, "rates": list(below.rates)}
            if below is not None else None
        ),
        "seeds": list(result.seeds),
        "guess": result.guess,
        "guess_model": result.guess_model,
        "erlang_c_guess": result.erlang_c_guess,
        "peak_hour": result.peak_hour,
        "theory": _theory_json(at.theory) if at is not None else None,
        "simulated": _simulated_json(at.days) if at is not None else None,
        "curve": {str(p.agents): p.rate for p in result.curve},
        "points": [
            {"agents": p.agents, "reply_rate": p.rate, "rates": list(p.rates),
             "gave_up": p.worst_gave_up, "meets": p.meets, "seconds": round(p.seconds, 3),
             "theory": _theory_json(p.theory), "simulated": _simulated_json(p.days)}
            for p in result.curve
        ],
        "engine": result.engine,
        "kefu": kefu.__version__,
        "config": cfg,
        "timing": {"total_s": round(result.seconds, 3)},
    }


def _wait(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f} s" if x < 600 else f"{x / 60:.1f} min"


def _per_seed(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


def _theory_lines(result: StaffResult, config: SimConfig, at: Point) -> list[str]:
    """The answer's queueing theory beside its simulated busiest hour and day."""
    t = at.theory
    if t is None:
        return []
    days = at.days
    hour = result.peak_hour if result.peak_hour is not None else 0
    limit = within(config.threshold)
    window = f"{config.window.start:%H:%M}-{config.window.end:%H:%M}"
    rows = [
        ("buyers who had to wait for an agent", _pct(t.p_wait),
         _per_seed([_pct(d.peak_waited) for d in days])),
        ("buyers who gave up waiting", _pct(t.p_abandon),
         _per_seed([_pct(d.peak_gave_up) for d in days])),
        ("mean wait for an agent (all buyers)", _wait(t.mean_wait),
         _per_seed([_wait(d.peak_mean_wait) for d in days])),
        (f"taken by an agent within {limit}", _pct(t.served_within), "-"),
        (f"answered by a person within {limit}", "-",
         _per_seed([_pct(d.reply_rate) for d in days]) + f" (whole day, {window})"),
    ]
    width = max(len(r[0]) for r in rows)
    seats = "unlimited chats" if result.cap is None else f"{t.servers:,} chats at once"
    if t.model == "erlang_a":
        patience = config.workload.patience
        mean = patience.mean if patience is not None else 0.0
        model = (f"Erlang A (buyers give up after {_wait(mean)} on average; patience "
                 "taken as exponential)")
    else:
        model = "Erlang C (buyers wait as long as it takes)"
    return [
        "",
        f"At {_agents(at.agents)} ({seats}), queueing theory beside the simulated days:",
        f"  {'':<{width}}  {'theory':>8}  simulated, {hour:02d}:00-{hour + 1:02d}:00 "
        "(busiest hour), per day",
        *(f"  {name:<{width}}  {theory:>8}  {sim}" for name, theory, sim in rows),
        f"  theory: {model},",
        f"          at the busiest minute's arrival rate held steady ({t.load:,.0f} chats busy "
        "on average),",
        "          with every chat the agents can hold at once counted as a server.",
    ]


def format_staff(result: StaffResult, config: SimConfig) -> str:
    """``staff`` as a readable answer and curve."""
    seeds = ", ".join(str(s) for s in result.seeds)
    cap = "unlimited" if result.cap is None else str(result.cap)
    limit = within(config.threshold)
    lines = [
        f"kefu staff: fewest agents at cap {cap} with at least {_pct(result.target)} of buyers "
        f"answered by a person within {limit}, on every simulated day (seeds {seeds})"
        + ("" if result.max_abandon is None else
           f", with at most {_pct(result.max_abandon)} giving up waiting"),
        *describe_config(config, agents=False),
        "",
        "  each staffing level on its worst simulated day (per day: every day run there)",
        f"  agents  answered within {limit}  per day                     "
        "gave up waiting  verdict",
    ]
    head = len(f"answered within {limit}")
    for p in result.curve:
        per_seed = ", ".join(_pct(r) for r in p.rates)
        lines.append(f"  {p.agents:>6}  {_pct(p.rate):>{head}}  {per_seed:<26}  "
                     f"{_pct(p.worst_gave_up):>15}  {_verdict(p, len(result.seeds))}")
    lines.append("")
    if result.agents is None:
        lines.append(f"answer: none up to {result.curve[-1].agents} agents meets the target")
    else:
        at = result.point(result.agents)
        below = result.point(result.agents - 1)
        tail = ""
        if below is not None:
            tail = f"; {_agents(below.agents)}: {_pct(below.rate)}"
        elif result.at_lower_bound:
            tail = "; fewer agents were not tried (--min-agents)"
        lines.append(f"answer: {_agents(result.agents)} at cap {cap} "
                     f"({_pct(at.rate if at else None)} answered within {limit} "
                     f"on the worst day{tail})")
        if at is not None and result.max_abandon is None and at.worst_gave_up > 0.02:
            lines.append(f"note: {_pct(at.worst_gave_up)} of buyers gave up waiting for an agent "
                         "at this staffing;\n      --max-abandon 0.02 keeps that under 2 %.")
        if at is not None:
            lines += _theory_lines(result, config, at)
        lines.append("")
    runs = sum(len(p.rates) for p in result.curve)
    lines.append(f"first guess from queueing theory: {_guess(result)}")
    lines.append(f"searched {len(result.curve)} staffing levels, {runs} simulated days in "
                 f"{result.seconds:.1f} s (engine {result.engine})")
    return "\n".join(lines)


def _guess(result: StaffResult) -> str:
    if result.guess_model != "erlang_a":
        return f"{_agents(result.guess)} (Erlang C: buyers wait as long as it takes)"
    other = ("" if result.erlang_c_guess is None else
             f";\n  Erlang C, which assumes nobody gives up, says {result.erlang_c_guess}")
    return (f"{_agents(result.guess)} (Erlang A, which counts buyers who give up waiting "
            f"as missed{other})")


SIMULATE = SimulateCommand()
STAFF = StaffCommand()
