"""The compiled ``apply`` keeps its events list out of the cyclic collector's sight only
while it fills: what the caller gets back, returned or carried by ``BatchAborted``, is
tracked again like any list (R21, R22)."""

from __future__ import annotations

import gc

import pytest

from conftest import require_engine
from kefu import Assigner, Cap, ManualClock
from kefu.errors import BatchAborted


def _shop() -> Assigner:
    shop = Assigner(ManualClock(0.0), engine=require_engine("c"))  # type: ignore[arg-type]
    shop.add_agent("a", Cap.limit(2), online=True)
    return shop


def test_r21_the_returned_events_list_is_tracked() -> None:
    events = _shop().apply([("open_session", f"s{i}") for i in range(5)])
    assert len(events) == 5 + 5  # each opened, then assigned (two) or queued (three)
    assert gc.is_tracked(events)


def test_r22_the_events_of_an_aborted_batch_are_tracked() -> None:
    shop = _shop()
    with pytest.raises(BatchAborted) as caught:
        shop.apply([("open_session", "s0"), ("close_session", "nope")])
    assert [type(e).__name__ for e in caught.value.events] == ["Opened", "Assigned"]
    assert gc.is_tracked(caught.value.events)


def test_r22_a_feed_that_collects_garbage_mid_batch_changes_nothing() -> None:
    """A full collection while the list is untracked (the feed runs Python code) frees
    nothing the batch still holds."""
    def feed():  # type: ignore[no-untyped-def]
        for i in range(50):
            if i % 10 == 0:
                gc.collect()
            yield ("open_session", f"s{i}")
    events = _shop().apply(feed())
    assert [e.session_id for e in events if type(e).__name__ == "Opened"] == [
        f"s{i}" for i in range(50)]
    assert gc.is_tracked(events)
