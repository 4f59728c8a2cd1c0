"""Ids chosen to collide do not slow a report down (hash flooding).

Message, session and buyer ids come from outside the shop: a chat client may
choose its own message ids. The compiled kernel files ids in open-addressing
tables; were their hash fixed (or only seeded multiply-and-shift), someone who
knows it could send ids that all probe one run of slots and make a report's
pass quadratic: 20,000 such ids once took 40 times as long as 20,000 others.
The tables' hash is now keyed by a secret of the process. These tests build the two
families of ids that defeat such hashes and check that they spread over a
table's slots like any ids, and that a report on them is the pure kernel's.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter

import pytest
from kpi_flood_ids import differential_collisions, fixed_hash_collisions
from kpi_helpers import DAY, agent, at, buyer

from kefu import kpi
from kefu.kpi import kernel


def _largest_slot_share(ids: list[str], table_bits: int) -> int:
    from kefu.kpi import _kernel_c  # type: ignore[attr-defined]

    shift = 64 - table_bits  # a table's first probe is at the hash's top bits
    return max(Counter(_kernel_c.table_hash(s) >> shift for s in ids).values())


@pytest.fixture(autouse=True)
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


@pytest.mark.parametrize("family", ["fixed", "differential"])
def test_SPEC_B_ids_chosen_to_collide_spread_over_the_tables_slots(family: str) -> None:
    """20,000 / 16,384 crafted ids land at most a handful to a slot of a table of
    32,768 slots (chance gives about 7 at most; a floodable hash puts them all in one)."""
    ids = fixed_hash_collisions(20_000) if family == "fixed" else differential_collisions(14)
    assert len(set(ids)) == len(ids)
    assert _largest_slot_share(ids, 15) <= 16


def test_SPEC_B_equal_ids_made_apart_hash_alike() -> None:
    """The tables find an id by its hash: equal strings built separately, of every
    width of code point, get one hash."""
    from kefu.kpi import _kernel_c

    for text in ["s1", "客服-会话-7", "emoji-\U0001F600", "x" * 100, ""]:
        again = "".join(list(text))
        assert _kernel_c.table_hash(again) == _kernel_c.table_hash(text)
    with pytest.raises(TypeError):
        _kernel_c.table_hash(type("S", (str,), {})("s1"))


def test_SPEC_B_K03_report_on_crafted_ids_equals_the_pure_kernels() -> None:
    """A day whose message and session ids were chosen to collide reports the same
    figures on both kernels."""
    mids = fixed_hash_collisions(600)
    sids = differential_collisions(8)
    rnd = random.Random(5)
    msgs = []
    for k in range(300):
        t = at(9) + rnd.random() * 30000
        sid = sids[k % len(sids)]
        msgs += [buyer(t, sid, f"b{k % 40}", mid=mids[2 * k]),
                 agent(t + rnd.choice([20.0, 400.0]), sid, f"b{k % 40}",
                       name=f"ag{k % 5}", mid=mids[2 * k + 1])]
    reports = []
    saved = kernel.ACTIVE
    try:
        for name in ("c", "py"):
            kernel.ACTIVE = name
            reports.append(kpi.daily_report(msgs, day=DAY))
    finally:
        kernel.ACTIVE = saved
    assert reports[0] == reports[1]
    assert reports[0].shop.met + reports[0].shop.missed > 0


def _hashes_in_a_process(hash_seed: str) -> list[int]:
    code = ("from kefu.kpi import _kernel_c; "
            "print([_kernel_c.table_hash(s) for s in ('s1', 'm-000017', '客服')])")
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.strip("[]\n").split(",")]


def test_SPEC_B_the_tables_hash_is_keyed_by_the_process_hash_secret() -> None:
    """Someone who reads the code cannot tell which ids collide in a given process:
    the hash changes with Python's hash secret (and stays put when it is fixed)."""
    first, again, other = (_hashes_in_a_process(seed) for seed in ("1", "1", "2"))
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
