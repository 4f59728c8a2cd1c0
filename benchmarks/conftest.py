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
