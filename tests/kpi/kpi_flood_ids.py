"""Ids built to collide under a multiply-and-shift string hash (hash flooding).

Two families: ids that share one hash under a fixed hash of that kind, and
ids that share one whatever its seed. The compiled KPI kernel's tables must
spread both like any ids (tests/kpi/test_kpi_flood.py); the benchmark
benchmarks/bench_flood.py times a report on them against random ids.
"""

from __future__ import annotations

import random

_MASK = (1 << 64) - 1
_MUL = 0xFF51AFD7ED558CCD
_START = 0x9E3779B97F4A7C15
_TOP = 1 << 63


def _step(state: int, block: int) -> int:
    """One 8-byte block of a multiply-and-shift string hash."""
    state = ((state ^ block) * _MUL) & _MASK
    return state ^ (state >> 32)


def _text(blocks: list[int]) -> str:
    """A str whose one-byte code points are these 8-byte blocks, little-endian."""
    return b"".join(b.to_bytes(8, "little") for b in blocks).decode("latin-1")


def fixed_hash_collisions(n: int) -> list[str]:
    """``n`` distinct 16-character ids with one hash under the fixed hash: the
    second block undoes the first block's effect on the state."""
    rnd = random.Random(1)
    first = rnd.sample(range(1 << 62), n)
    start = _START ^ 16
    return [_text([v, 0x1234567890ABCDEF ^ _step(start, v)]) for v in first]


def differential_collisions(bits: int) -> list[str]:
    """2**bits distinct ids of (bits + 1) blocks that collide under a
    multiply-and-shift hash whatever its seed: flipping a block's top bit flips
    the state by the same two bits for any state, which the next block undoes."""
    carried = _TOP ^ (_TOP >> 32)  # what a flipped top bit becomes after one step
    rnd = random.Random(2)
    base = [rnd.getrandbits(64) for _ in range(bits + 1)]
    ids = []
    for pattern in range(1 << bits):
        blocks, before = [], 0
        for i, value in enumerate(base):
            flip = _TOP if i < bits and pattern >> i & 1 else 0
            blocks.append(value ^ before ^ flip)
            before = carried if flip else 0
        ids.append(_text(blocks))
    return ids
