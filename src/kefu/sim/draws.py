"""A simulated day's buyers, drawn in bulk: when each arrives and their whole script.

Everything random about the buyers is drawn before the day runs, one numpy
call per quantity for the whole day, and handed to the driver as plain
Python lists (indexing a list is what a per-event loop does fastest). The
driver's own loop then draws nothing.

Each quantity comes from its own stream, spawned from the run's seed
(:func:`streams`), so the same seed gives the same buyers on either engine
and at every staffing level (common random numbers: a staffing curve is
then smooth, not noisy), and a change to one distribution leaves the
others' draws as they were. numpy keeps a seed's numbers within one of its
releases, not across them, and so does a simulated day. Cost: O(buyers + questions) at C speed, plus
the conversion to lists.
"""

from __future__ import annotations

import attrs
import numpy as np

from kefu.sim.config import SimConfig

__all__ = ["Buyers", "arrival_times", "draw_buyers", "streams"]

# The streams, by their place in the seed's spawn: never reorder, only append.
_STREAMS = ("arrivals", "group", "bot", "bot_resolve", "bot_time", "rounds", "reply",
            "gap", "patience", "closes", "close_delay", "rates", "rating")


def streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per quantity drawn, from ``seed`` (any int). O(1)."""
    # SeedSequence takes non-negative entropy: the sign goes into the spawn key.
    root = np.random.SeedSequence(abs(seed), spawn_key=(int(seed < 0),))
    return {name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(_STREAMS, root.spawn(len(_STREAMS)), strict=True)}


def arrival_times(config: SimConfig, t0: float,
                  rng: np.random.Generator | None = None) -> list[float]:
    """Poisson arrivals at each minute's rate, sorted (exact for a piecewise-constant rate).

    A minute with rate r gets a Poisson(r) count of arrivals, each at a
    uniform instant of the minute: the same process as exponential gaps at
    rate r / 60 s, drawn in two calls for the whole day. O(arrivals).
    """
    gen = rng if rng is not None else streams(config.seed)["arrivals"]
    rates = np.asarray(config.workload.profile.rates, dtype=np.float64)
    counts = gen.poisson(rates)
    minute = np.repeat(np.arange(len(rates), dtype=np.float64), counts)
    at = t0 + 60.0 * (minute + gen.random(len(minute)))
    at.sort()
    out: list[float] = at.tolist()
    return out


@attrs.frozen
class Buyers:
    """Every buyer of one day; buyer ``i``'s values are the ``i``-th entries.

    Questions are flattened: buyer ``i`` asks ``rounds[i]`` questions whose
    base reply delays are ``replies[first[i]:first[i] + rounds[i]]``, and
    thinks ``gaps[first[i] - i + j - 1]`` seconds before question ``j + 1``
    (j = 1 .. rounds[i] - 1).
    """

    arrivals: list[float]
    groups: list[str | None]
    bot: list[bool]  # talks to the bot first
    resolves: list[bool]  # ... who serves them to the end
    bot_time: list[float]  # seconds with the bot before asking for a person
    rounds: list[int]
    first: list[int]
    replies: list[float]
    gaps: list[float]
    patience: list[float]  # inf: waits for ever
    closes: list[bool]  # the agent closes the chat (else auto close)
    close_delay: list[float]
    rate_u: list[float]  # < 0: no evaluation card; else the uniform draw of the rating

    def __len__(self) -> int:
        return len(self.arrivals)


def draw_buyers(config: SimConfig, t0: float) -> Buyers:
    """The day of ``config`` (its seed, profile and conversation model) from local midnight ``t0``.

    O(buyers + questions) numpy draws and list conversions.
    """
    wl = config.workload
    gen = streams(config.seed)
    arrivals = arrival_times(config, t0, gen["arrivals"])
    n = len(arrivals)
    groups: list[str | None]
    if wl.groups:
        names = [name for name, _ in wl.groups]
        cum = np.cumsum([share for _, share in wl.groups])
        pick = np.searchsorted(cum, gen["group"].random(n) * cum[-1], side="right")
        groups = [names[k] for k in np.minimum(pick, len(names) - 1).tolist()]
    else:
        groups = [None] * n
    bot = gen["bot"].random(n) < wl.bot_share
    resolves = bot & (gen["bot_resolve"].random(n) < wl.bot_resolve)
    rounds = np.maximum(1, wl.rounds.sample(gen["rounds"], n).astype(np.int64))
    first = np.zeros(n, dtype=np.int64)
    np.cumsum(rounds[:-1], out=first[1:])
    total = int(rounds.sum())
    patience = (np.full(n, np.inf) if wl.patience is None
                else wl.patience.sample(gen["patience"], n))
    rated = gen["rates"].random(n) < wl.rate_share
    rate_u = np.where(rated, gen["rating"].random(n), -1.0)
    return Buyers(
        arrivals=arrivals,
        groups=groups,
        bot=bot.tolist(),
        resolves=resolves.tolist(),
        bot_time=wl.bot_time.sample(gen["bot_time"], n).tolist(),
        rounds=rounds.tolist(),
        first=first.tolist(),
        replies=wl.reply_delay.sample(gen["reply"], total).tolist(),
        gaps=wl.buyer_gap.sample(gen["gap"], total - n).tolist(),
        patience=patience.tolist(),
        closes=(gen["closes"].random(n) < wl.agent_close).tolist(),
        close_delay=wl.close_delay.sample(gen["close_delay"], n).tolist(),
        rate_u=rate_u.tolist(),
    )
