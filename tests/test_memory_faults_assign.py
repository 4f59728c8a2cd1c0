"""A failed allocation inside a manual assign of a session on a ladder (R24).

The compiled engine once ended the session's ladder (and recorded the hand-over)
before leaving its line, which can fail; the session then stayed waiting with no
ladder state and ``check`` failed. Now every step that allocates (its kinds line,
its escalated lists) comes first and is whole, so a failure changes nothing.
The sweep in ``memory_faults.py`` checks the same command against the pure engine.
"""

from __future__ import annotations

import functools

import pytest

from conftest import require_engine


def test_r24_failed_assign_leaves_the_ladder_sound() -> None:
    pytest.importorskip("_testcapi")
    require_engine("c")
    import memory_faults as m

    failed = 0
    for k in range(60):
        shop = m.build("c")
        before = m.state(shop)
        outcome, _ = m.fail_allocation(k, functools.partial(shop.assign, "s11", "A"))
        if outcome == "ok":
            break
        failed += 1
        shop.check()
        assert m.state(shop) == before, k
    assert failed >= 3  # it did fail allocations inside the command


def test_r24_failed_close_of_a_laddered_session_changes_nothing() -> None:
    pytest.importorskip("_testcapi")
    require_engine("c")
    import memory_faults as m

    failed = 0
    for k in range(60):
        shop = m.build("c")
        before = m.state(shop)
        outcome, _ = m.fail_allocation(k, functools.partial(shop.close_session, "s11"))
        if outcome == "ok":
            break
        failed += 1
        shop.check()
        assert m.state(shop) == before, k
    assert failed >= 2
