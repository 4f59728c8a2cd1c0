"""The shop being simulated: agents, caps, Assigner settings, the shift plan.

A :class:`ShopPlan` says how many agents there are and how the shop's
Assigner is configured; :func:`roster` deals the agents to skill groups and
shifts. :class:`SimConfig` bundles a plan with a :class:`Workload`, a seed
and the day being simulated, so one value describes one run.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence

import attrs

from kefu.kpi import Window
from kefu.model import MAX_CAP, Strategy
from kefu.sim.errors import SimConfigError
from kefu.sim.workload import DAY_MINUTES, Workload

__all__ = [
    "HANDOFFS",
    "MAX_AGENTS",
    "AgentPlan",
    "Shift",
    "ShopPlan",
    "SimConfig",
    "largest_remainder",
    "parse_shifts",
    "roster",
]

MAX_AGENTS = 5000
HANDOFFS = ("finish", "requeue")


@attrs.frozen
class Shift:
    """Agents on line from ``start`` to ``end`` (minutes from 00:00; end may be 1440).

    ``start > end`` crosses midnight (22:00-06:00). ``weight`` is this shift's
    share of the agents relative to the plan's other shifts.
    """

    start: int
    end: int
    weight: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not (0 <= self.start < DAY_MINUTES and 0 < self.end <= DAY_MINUTES):
            raise SimConfigError(f"shift {self.start}-{self.end}: times must be within 00:00-24:00")
        if self.start == self.end:
            raise SimConfigError(f"empty shift {self}")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise SimConfigError(f"shift weight must be > 0, got {self.weight!r}")

    def intervals(self) -> tuple[tuple[int, int], ...]:
        """On-line minutes as [start, end) pairs within the day."""
        if self.start < self.end:
            return ((self.start, self.end),)
        return ((0, self.end), (self.start, DAY_MINUTES))

    def __str__(self) -> str:
        text = f"{_hhmm(self.start)}-{_hhmm(self.end)}"
        return text if self.weight == 1 else f"{text}@{self.weight:g}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


_SHIFT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*(?:@\s*([0-9.]+))?\s*$")


def parse_shifts(spec: str) -> tuple[Shift, ...]:
    """``HH:MM-HH:MM[@WEIGHT],...``, e.g. ``00:00-08:00@1,08:00-17:00@3,13:00-24:00@6``."""
    shifts = []
    for part in spec.split(","):
        m = _SHIFT.match(part)
        if m is None:
            raise SimConfigError(
                f"bad shift {part.strip()!r}: use HH:MM-HH:MM or HH:MM-HH:MM@WEIGHT, "
                "e.g. 08:00-17:00@3"
            )
        h1, m1, h2, m2 = (int(g) for g in m.groups()[:4])
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise SimConfigError(f"bad shift {part.strip()!r}: times run 00:00..24:00")
        try:
            weight = float(m.group(5)) if m.group(5) else 1.0
        except ValueError:
            raise SimConfigError(f"bad shift weight in {part.strip()!r}") from None
        shifts.append(Shift(h1 * 60 + m1, h2 * 60 + m2, weight))
    return tuple(shifts)


def _positive_seconds(name: str) -> Callable[[object, object, float | None], None]:
    def check(_inst: object, _attr: object, value: float | None) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0
        ):
            raise SimConfigError(f"{name} must be a number of seconds > 0 or off, got {value!r}")

    return check


def _check_agents(_inst: object, _attr: object, value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_AGENTS:
        raise SimConfigError(f"agents must be a whole number 1..{MAX_AGENTS}, got {value!r}")


def _check_cap(_inst: object, _attr: object, value: int | None) -> None:
    if value is not None and (type(value) is not int or not 1 <= value <= MAX_CAP):
        raise SimConfigError(f"cap must be a whole number 1..{MAX_CAP} (or unlimited), "
                             f"got {value!r}")


def _check_handoff(_inst: object, _attr: object, value: str) -> None:
    if value not in HANDOFFS:
        raise SimConfigError(f"handoff must be one of {', '.join(HANDOFFS)}, got {value!r}")


def _check_shifts(_inst: object, _attr: object, value: tuple[Shift, ...]) -> None:
    if not value:
        raise SimConfigError("a shift plan needs at least one shift")


@attrs.frozen(kw_only=True)
class ShopPlan:
    """Agents and the Assigner's settings for one simulated shop.

    ``cap`` None is UNLIMITED. ``handoff`` says what an agent does at the end
    of a shift: "finish" (goes offline for new sessions but answers the
    open ones until none is left) or "requeue" (their sessions go back to
    the waiting line, R15). A shift that ends at 24:00 runs on until the
    last session of the day closes.
    """

    agents: int = attrs.field(validator=_check_agents)
    cap: int | None = attrs.field(default=50, validator=_check_cap)
    strategy: Strategy = Strategy.LEAST_LOAD
    offline_diversion: bool = False
    auto_close: float | None = attrs.field(default=1200.0,
                                           validator=_positive_seconds("auto close"))
    first_response_timeout: float | None = attrs.field(
        default=None, validator=_positive_seconds("first-response timeout"))
    shifts: tuple[Shift, ...] = attrs.field(default=(Shift(0, DAY_MINUTES),),
                                            validator=_check_shifts)
    handoff: str = attrs.field(default="finish", validator=_check_handoff)

    def with_agents(self, agents: int) -> ShopPlan:
        return attrs.evolve(self, agents=agents)


@attrs.frozen
class AgentPlan:
    """One agent: id, the group it serves (None = all) and its on-line minutes."""

    agent_id: str
    group: str | None
    intervals: tuple[tuple[int, int], ...]


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into whole parts proportional to ``weights`` (Hamilton's method)."""
    s = math.fsum(weights)
    exact = [total * w / s for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def roster(plan: ShopPlan, groups: Sequence[tuple[str, float]] = ()) -> list[AgentPlan]:
    """The agents of ``plan``: dealt to groups by session share, then to shifts by weight."""
    if groups:
        if plan.agents < len(groups):
            raise SimConfigError(
                f"{plan.agents} agent(s) cannot cover {len(groups)} groups: each group needs one"
            )
        # Every group gets one agent first, the rest follow the session mix.
        extra = largest_remainder(plan.agents - len(groups), [s for _, s in groups])
        teams: list[tuple[str | None, int]] = [
            (name, 1 + k) for (name, _), k in zip(groups, extra, strict=True)
        ]
    else:
        teams = [(None, plan.agents)]
    width = max(2, len(str(plan.agents)))
    out: list[AgentPlan] = []
    for group, size in teams:
        counts = largest_remainder(size, [s.weight for s in plan.shifts])
        n = 0
        for shift, count in zip(plan.shifts, counts, strict=True):
            for _ in range(count):
                n += 1
                prefix = "a" if group is None else group
                out.append(AgentPlan(f"{prefix}{n:0{width}d}", group, shift.intervals()))
    return out


def _check_tz(_inst: object, _attr: object, value: str) -> None:
    from kefu.kpi.window import resolve_tz

    try:
        resolve_tz(value)
    except Exception:
        raise SimConfigError(f"unknown timezone {value!r}") from None


def _check_day(_inst: object, _attr: object, value: dt.date) -> None:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date) or not (
        1971 <= value.year <= 9998
    ):
        raise SimConfigError(f"day must be a date in the years 1971..9998, got {value}")


def _check_seed(_inst: object, _attr: object, value: int) -> None:
    if type(value) is not int:
        raise SimConfigError(f"seed must be a whole number, got {value!r}")


@attrs.frozen(kw_only=True)
class SimConfig:
    """Everything one run needs: same config, same result (the seed fixes every draw)."""

    workload: Workload
    shop: ShopPlan
    seed: int = attrs.field(default=1, validator=_check_seed)
    day: dt.date = attrs.field(default=dt.date(2026, 11, 11), validator=_check_day)
    tz: str = attrs.field(default="Asia/Shanghai", validator=_check_tz)
    window: Window = attrs.field(factory=Window.default)
    threshold: float = 180.0

    def __attrs_post_init__(self) -> None:
        roster(self.shop, self.workload.groups)  # raises if the agents cannot cover the groups
        if not (isinstance(self.threshold, (int, float)) and 0 < self.threshold < math.inf):
            raise SimConfigError(f"threshold must be seconds > 0, got {self.threshold!r}")
