"""The workload: when buyers arrive and how their conversations go.

Arrivals follow a per-minute rate curve over one local day (a
:class:`Profile`): the built-in promotion-day shape, a flat line, or a CSV
of arrivals per minute. Within a minute arrivals are a Poisson process at
that minute's rate, so a flat profile is exactly Poisson (the Erlang C
validation relies on that).

A conversation (a :class:`Workload`) is a number of buyer questions, each
answered by the agent after a reply delay that grows with the agent's load,
with buyer think time between an answer and the next question. A share of
buyers talks to a bot first and asks for a human (转人工) later; buyers in a
pool give up after their patience runs out; after the last answer the agent
closes the session or leaves it to auto close. Source 002 gives the shape of
the day: quiet at 13:00-14:00, the peak at 21:00.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import attrs

from kefu.sim.dist import Dist
from kefu.sim.errors import SimConfigError

__all__ = [
    "DAY_MINUTES",
    "PROMO_HOURLY",
    "REFERENCE_LOAD",
    "Profile",
    "Workload",
    "expected_duration",
    "for_peak",
    "peak_rate",
]

DAY_MINUTES = 1440

#: Relative arrival rate at each full hour 00:00 .. 24:00 of a promotion day
#: (1.0 = the peak): the midnight opening rush, a quiet night, a busy morning,
#: the 13:00-14:00 lull and the 21:00 peak of source 002.
PROMO_HOURLY: tuple[float, ...] = (
    0.50, 0.25, 0.10, 0.05, 0.03, 0.03, 0.05, 0.09, 0.18, 0.28, 0.36, 0.38,
    0.32, 0.25, 0.27, 0.32, 0.35, 0.36, 0.42, 0.56, 0.80, 1.00, 0.78, 0.52, 0.50,
)

#: Open chats per agent assumed when turning a peak of concurrent buyers into
#: an arrival rate: fixed, so the arrivals never depend on the staffing tried.
REFERENCE_LOAD = 20


def _check_rates(inst: Profile, _attr: object, rates: tuple[float, ...]) -> None:
    if not 1 <= len(rates) <= DAY_MINUTES:
        raise SimConfigError(f"a profile covers 1..{DAY_MINUTES} minutes, got {len(rates)}")
    for r in rates:
        if not (isinstance(r, float) and math.isfinite(r) and r >= 0):
            raise SimConfigError(f"arrival rates must be finite floats >= 0, got {r!r}")
    if not any(rates):
        raise SimConfigError("the profile has no arrivals at all")


@attrs.frozen
class Profile:
    """Expected arrivals in each minute of the day, from local 00:00 (``rates[0]``)."""

    name: str
    rates: tuple[float, ...] = attrs.field(validator=_check_rates, repr=False)
    peak_buyers: float | None = None  # the concurrent buyers it was scaled for, if it was

    @classmethod
    def promo(cls, peak_per_minute: float) -> Profile:
        """The built-in promotion day, ``peak_per_minute`` arrivals per minute at 21:00."""
        rates = []
        for m in range(DAY_MINUTES):
            h, frac = divmod(m, 60)
            w = (1 - math.cos(math.pi * frac / 60)) / 2  # smooth between the hourly anchors
            rates.append(peak_per_minute * (PROMO_HOURLY[h] * (1 - w) + PROMO_HOURLY[h + 1] * w))
        return cls("promo", tuple(rates))

    @classmethod
    def flat(cls, per_minute: float, minutes: int = DAY_MINUTES) -> Profile:
        """The same rate all day (a homogeneous Poisson process)."""
        return cls("flat", (float(per_minute),) * minutes)

    @classmethod
    def from_csv(cls, path: str | Path) -> Profile:
        """Arrivals per minute from a CSV file.

        Either one number per row (minute 0, 1, ... from 00:00), or two
        columns ``minute,arrivals`` where minute is 0..1439 or ``HH:MM``;
        minutes not listed then have no arrivals. A header row, blank lines
        and ``#`` comments are skipped.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise SimConfigError(f"cannot read profile {str(p)!r}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SimConfigError(f"profile {str(p)!r} is not UTF-8 text") from None
        rows = [
            (n, [c.strip() for c in row])
            for n, row in enumerate(csv.reader(text.splitlines()), start=1)
            if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
        ]
        if rows and not _is_number(rows[0][1][-1]):
            rows = rows[1:]  # a header
        if not rows:
            raise SimConfigError(f"profile {str(p)!r} has no rows of arrivals")
        width = len(rows[0][1])
        if width not in (1, 2):
            raise SimConfigError(
                f"{p}:{rows[0][0]}: expected 'arrivals' or 'minute,arrivals', got {width} columns"
            )
        if width == 1:
            if len(rows) > DAY_MINUTES:
                raise SimConfigError(f"{p}: {len(rows)} rows; a day has {DAY_MINUTES} minutes")
            rates = [_rate(p, n, row, 1) for n, row in rows]
        else:
            by_minute: dict[int, float] = {}
            for n, row in rows:
                minute = _minute(p, n, row)
                if minute in by_minute:
                    raise SimConfigError(f"{p}:{n}: minute {row[0]!r} is listed twice")
                by_minute[minute] = _rate(p, n, row, 2)
            rates = [by_minute.get(m, 0.0) for m in range(max(by_minute) + 1)]
        return cls(f"csv:{p.name}", tuple(rates))

    @property
    def minutes(self) -> int:
        return len(self.rates)

    @property
    def peak(self) -> float:
        """The highest per-minute rate."""
        return max(self.rates)

    @property
    def expected_arrivals(self) -> float:
        return math.fsum(self.rates)

    def scaled(self, factor: float, peak_buyers: float | None = None) -> Profile:
        """The same shape with every rate multiplied by ``factor``."""
        return Profile(self.name, tuple(r * factor for r in self.rates), peak_buyers)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _rate(p: Path, n: int, row: list[str], width: int) -> float:
    if len(row) != width:
        raise SimConfigError(f"{p}:{n}: expected {width} column(s), got {len(row)}")
    try:
        value = float(row[-1])
    except ValueError:
        raise SimConfigError(f"{p}:{n}: arrivals {row[-1]!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise SimConfigError(f"{p}:{n}: arrivals must be a finite number >= 0, got {row[-1]!r}")
    return value


def _minute(p: Path, n: int, row: list[str]) -> int:
    cell = row[0]
    try:
        if ":" in cell:
            hh, mm = cell.split(":")
            h, m = int(hh), int(mm)
            if not (0 <= h < 24 and 0 <= m < 60):
                raise ValueError
            return h * 60 + m
        minute = int(cell)
    except ValueError:
        raise SimConfigError(f"{p}:{n}: minute {cell!r} is not 0..1439 or HH:MM") from None
    if not 0 <= minute < DAY_MINUTES:
        raise SimConfigError(f"{p}:{n}: minute {cell!r} is not 0..1439 or HH:MM")
    return minute


def _share(name: str) -> Callable[[object, object, float], None]:
    def check(_inst: object, _attr: object, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise SimConfigError(f"{name} must be a share between 0 and 1, got {value!r}")

    return check


def _check_groups(_inst: object, _attr: object, groups: tuple[tuple[str, float], ...]) -> None:
    names = [g for g, _ in groups]
    if len(set(names)) != len(names):
        raise SimConfigError(f"group names must be distinct, got {names}")
    for name, share in groups:
        if not name or not isinstance(name, str):
            raise SimConfigError(f"group names must be non-empty, got {name!r}")
        if not (isinstance(share, (int, float)) and math.isfinite(share) and share > 0):
            raise SimConfigError(f"group {name!r}: share must be > 0, got {share!r}")


def _check_slowdown(_inst: object, _attr: object, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value >= 0
    ):
        raise SimConfigError(f"load slowdown must be a finite number >= 0, got {value!r}")


def _check_rounds(_inst: object, _attr: object, value: Dist) -> None:
    if value.kind in ("const", "uniform") and value.params[0] < 1:
        raise SimConfigError(f"a conversation has at least 1 question, got rounds {value}")


# Defaults of the conversation model (Dist values are immutable, so sharing them is safe).
_ROUNDS = Dist.geometric(3)
_BUYER_GAP = Dist.lognormal(30, 0.8)
_REPLY_DELAY = Dist.lognormal(15, 0.6)
_PATIENCE = Dist.exp(300)
_BOT_TIME = Dist.lognormal(40, 0.5)
_CLOSE_DELAY = Dist.lognormal(20, 0.5)


@attrs.frozen(kw_only=True)
class Workload:
    """Arrivals and the conversation model; every default is a documented assumption.

    - ``rounds``: buyer questions per session (geometric, mean 3).
    - ``buyer_gap``: think time between an answer and the buyer's next question.
    - ``reply_delay``: an agent's reply delay with no other open chat; with
      ``load`` open chats it is multiplied by ``1 + load_slowdown * load``
      (0.04: an agent with 50 chats answers 3x slower than an idle one).
    - ``patience``: how long a buyer waits in a pool before giving up (None: forever).
    - ``bot_share``: sessions the bot answers first; they ask for a human after
      ``bot_time``, except ``bot_resolve`` of them, whom the bot serves to the end.
    - ``agent_close``: share of sessions the agent closes ``close_delay`` after
      the last answer; the rest wait for auto close.
    - ``rate_share``: sessions whose buyer rates the service (evaluation card).
    - ``groups``: (group, share) session mix; empty = no skill groups.
    """

    profile: Profile
    rounds: Dist = attrs.field(default=_ROUNDS, validator=_check_rounds)
    buyer_gap: Dist = _BUYER_GAP
    reply_delay: Dist = _REPLY_DELAY
    load_slowdown: float = attrs.field(default=0.04, validator=_check_slowdown)
    patience: Dist | None = _PATIENCE
    bot_share: float = attrs.field(default=0.2, validator=_share("bot share"))
    bot_time: Dist = _BOT_TIME
    bot_resolve: float = attrs.field(default=0.0, validator=_share("bot resolve share"))
    agent_close: float = attrs.field(default=0.7, validator=_share("agent close share"))
    close_delay: Dist = _CLOSE_DELAY
    rate_share: float = attrs.field(default=0.3, validator=_share("rating share"))
    groups: tuple[tuple[str, float], ...] = attrs.field(default=(), validator=_check_groups)


def expected_duration(workload: Workload, auto_close: float | None) -> float:
    """Mean seconds of Assigner time per arrival, for an unqueued session at the reference load.

    Little's law turns it into the arrival rate that keeps ``peak`` buyers
    open at the busiest minute: rate = peak / duration. Buyers the bot serves
    to the end never reach the Assigner and count 0. Sessions left to auto
    close add ``auto_close`` after the last answer; with auto close off they
    would stay open for ever, and only the agent's closes count here.
    """
    n = workload.rounds.mean
    reply = workload.reply_delay.mean * (1 + workload.load_slowdown * REFERENCE_LOAD)
    talk = n * reply + (n - 1) * workload.buyer_gap.mean
    ending = workload.agent_close * workload.close_delay.mean
    if auto_close is not None:
        ending += (1 - workload.agent_close) * auto_close
    human = 1 - workload.bot_share * workload.bot_resolve
    return human * (talk + ending)


def peak_rate(peak: float, workload_duration: float) -> float:
    """Arrivals per minute that keep ``peak`` sessions open (Little's law)."""
    if not (math.isfinite(peak) and peak > 0):
        raise SimConfigError(f"peak must be a number > 0, got {peak!r}")
    return 60.0 * peak / workload_duration


def for_peak(shape: Profile, peak: float, duration: float) -> Profile:
    """``shape`` scaled so that about ``peak`` sessions are open at its busiest minute.

    ``duration`` is :func:`expected_duration` of the workload it will drive.
    """
    if not (duration > 0 and math.isfinite(duration)):
        raise SimConfigError("no session ever reaches an agent (bot share and bot resolve are 1)")
    return shape.scaled(peak_rate(peak, duration) / shape.peak, peak)
