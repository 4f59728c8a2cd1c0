"""Benchmarks compare engines in one run: ``pytest benchmarks --benchmark-group-by=func``."""

from __future__ import annotations

import pytest

from kefu.assigner import ENGINES

#: Contenders: the compiled engine (when built), the reference engine, the naive baseline.
CONTENDERS = [name for name in ("c", "py", "naive") if name in ENGINES]


def contender(name: str) -> str:
    if name not in ENGINES:
        pytest.skip(f"engine {name!r} not built")
    return name


def only_when_timed(timing_off: bool, why: str) -> None:
    """Skip a slow case when nothing is timed (``--benchmark-disable``).

    That mode is a compile-and-run-once check: a smaller size or another engine
    runs the same code in seconds, and the slow case only matters for its timing.
    ``why`` names what runs the same code instead.
    """
    if timing_off:
        pytest.skip(f"timed runs only: {why}")
