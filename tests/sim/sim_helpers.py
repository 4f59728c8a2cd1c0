"""Small, fast simulated days for the kefu.sim tests (minutes, not a whole promotion day)."""

from __future__ import annotations

from typing import Any

import attrs

from kefu.sim import Dist, Profile, ShopPlan, SimConfig, Workload

MORNING = 8 * 60  # 08:00: inside the default assessment window


def profile(per_minute: float, minutes: int = 60, start: int = MORNING) -> Profile:
    """``per_minute`` arrivals per minute for ``minutes`` minutes from ``start`` (minutes)."""
    return Profile("test", (0.0,) * start + (float(per_minute),) * minutes)


def config(per_minute: float = 4.0, minutes: int = 60, *, agents: int = 3, cap: int | None = 10,
           seed: int = 1, workload: dict[str, Any] | None = None, **shop: Any) -> SimConfig:
    """A short morning at ``per_minute`` arrivals per minute; keyword args tune it."""
    wl = Workload(profile=profile(per_minute, minutes), **(workload or {}))
    return SimConfig(workload=wl, shop=ShopPlan(agents=agents, cap=cap, **shop), seed=seed)


def mm1_workload(**kw: Any) -> dict[str, Any]:
    """Workload options for a cap-1 queue: one question, instant answer, exponential handling."""
    base: dict[str, Any] = dict(rounds=Dist.const(1), reply_delay=Dist.const(0), load_slowdown=0.0,
                                patience=None, bot_share=0.0, agent_close=1.0,
                                close_delay=Dist.exp(60), rate_share=0.0)
    base.update(kw)
    return base


def with_seed(cfg: SimConfig, seed: int) -> SimConfig:
    return attrs.evolve(cfg, seed=seed)
