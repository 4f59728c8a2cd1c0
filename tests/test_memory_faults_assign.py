"""A failed allocation inside a manual assign of a session on a ladder (R24).

Known open defect of the compiled engine: ``_hand_out`` ends the session's ladder
(and records the hand-over) before ``_dequeue``, which can fail; the session then
stays waiting with no ladder state and ``check`` fails. Marked xfail until fixed.
"""

from __future__ import annotations

import functools

import pytest

from conftest import require_engine


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="assign is not whole under MemoryError yet (R24)")
def test_r24_failed_assign_leaves_the_ladder_sound() -> None:
    pytest.importorskip("_testcapi")
    require_engine("c")
    import memory_faults as m

    for k in range(60):
        shop = m.build("c")
        outcome, _ = m.fail_allocation(k, functools.partial(shop.assign, "s11", "A"))
        if outcome == "ok":
            break
        shop.check()
