"""S04: an agent message may name its sender; only the session's holder may send it.

Every test runs on each engine (``make``): the compiled one, the pure-Python
one and the naive model.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kefu import Assigner, ManualClock
from kefu.errors import (
    BatchAborted,
    InvalidArgument,
    KefuError,
    NotHolder,
    SessionWaiting,
    UnknownSession,
)
from kefu.events import Reassigned, ResponseTimedOut, Transferred

Make = Callable[..., Assigner]
FRT = 30.0


@pytest.fixture
def shop(make: Make, clock: ManualClock) -> Assigner:
    """A holds s1 (buyer b1); B is online with room; a 30 s first-response timeout."""
    a = make(first_response_timeout=FRT, auto_close_after=600.0)
    a.add_agent("A", cap=1, online=True)
    a.add_agent("B", cap=2, online=True)
    a.open_session("s1", buyer="b1")
    assert a.session("s1").agent_id == "A"
    return a


def test_S04_late_message_after_transfer_is_refused_and_the_new_holders_timer_fires(
    shop: Assigner, clock: ManualClock
) -> None:
    clock.set(10.0)
    assert shop.transfer("s1", "B") == [Transferred("s1", "A", "B", 10.0, "b1")]
    assert shop.next_deadline() == 10.0 + FRT, "the hand-over restarted the R18 timer for B"
    clock.set(20.0)
    before = shop.snapshot()
    with pytest.raises(NotHolder) as info:
        shop.agent_message("s1", agent_id="A")  # A writes late, after giving the session away
    err = info.value
    assert (err.session_id, err.agent_id, err.holder) == ("s1", "A", "B")
    assert str(err) == "agent 'A' does not hold session 's1': agent 'B' holds it"
    after = shop.snapshot()
    assert after["state"] == before["state"], "a refused message changes nothing"
    assert shop.reception_list("B") == ["s1"]
    assert shop.next_deadline() == 10.0 + FRT, "B's timer still runs"
    clock.set(10.0 + FRT)
    # B never answered: the timer fires, and the session goes back to the only other agent.
    assert shop.tick() == [ResponseTimedOut("s1", "B", 40.0, "b1"),
                           Reassigned("s1", "B", "A", 40.0, "b1")]


def test_S04_message_from_the_holder_answers_like_an_unattributed_one(engine: str) -> None:
    shops = []
    for sender in ("B", None):
        clock = ManualClock(0.0)
        a = Assigner(clock, first_response_timeout=FRT, auto_close_after=600.0,
                     engine=engine)  # type: ignore[arg-type]
        a.add_agent("A", cap=1, online=True)
        a.add_agent("B", cap=2, online=True)
        a.open_session("s1", buyer="b1")
        clock.set(10.0)
        a.transfer("s1", "B")
        clock.set(20.0)
        assert a.agent_message("s1", agent_id=sender) == []
        assert a.next_deadline() == 20.0 + 600.0, "R18 stopped; auto close counts down"
        clock.set(10.0 + FRT)
        assert a.tick() == []
        shops.append(a)
    assert shops[0].snapshot()["state"] == shops[1].snapshot()["state"]


def test_S04_system_auto_reply_attributed_to_the_holder_keeps_r18_running(
    shop: Assigner, clock: ManualClock
) -> None:
    clock.set(5.0)
    assert shop.agent_message("s1", True, "A") == []
    assert shop.next_deadline() == FRT, "an auto-reply answers nothing (R18 runs on)"


def test_S04_a_waiting_session_has_no_holder(shop: Assigner, clock: ManualClock) -> None:
    shop.set_cap("B", 1)
    shop.open_session("s2", buyer="b2")  # -> B
    shop.open_session("s3", buyer="b3")  # waits: A and B are full
    assert shop.waiting() == ["s3"]
    before = shop.snapshot()["state"]
    for auto in (False, True):
        with pytest.raises(NotHolder) as info:
            shop.agent_message("s3", auto, "A")
        assert info.value.holder is None
        assert str(info.value) == (
            "agent 'A' does not hold session 's3': the session is waiting in a pool")
    assert shop.snapshot()["state"] == before
    # Unattributed, today's rules still apply: a human message to a waiting session is an
    # error, a system auto-reply is fine.
    with pytest.raises(SessionWaiting):
        shop.agent_message("s3")
    assert shop.agent_message("s3", auto=True) == []


def test_S04_an_unknown_or_removed_agent_holds_nothing(shop: Assigner, clock: ManualClock) -> None:
    before = shop.snapshot()["state"]
    with pytest.raises(NotHolder) as info:
        shop.agent_message("s1", agent_id="ghost")
    assert str(info.value) == (
        "agent 'ghost' does not hold session 's1': no agent with this id is registered")
    assert info.value.holder == "A"
    assert shop.snapshot()["state"] == before
    clock.set(3.0)
    shop.remove_agent("A")  # s1 goes to B (R10); A's late message is refused
    with pytest.raises(NotHolder, match="no agent with this id is registered"):
        shop.agent_message("s1", agent_id="A")
    assert shop.next_deadline() == 3.0 + FRT


def test_S04_an_unknown_session_is_reported_before_the_sender(shop: Assigner) -> None:
    with pytest.raises(UnknownSession):
        shop.agent_message("nope", agent_id="ghost")
    with pytest.raises(UnknownSession):
        shop.agent_message("nope", agent_id="A")


class SubStr(str):
    pass


@pytest.mark.parametrize("bad", ["", 7, b"A", SubStr("A"), ["A"], True, 1.5])
def test_S04_a_sender_that_is_not_an_id_is_an_invalid_argument(
    shop: Assigner, bad: object
) -> None:
    before = shop.snapshot()["state"]
    with pytest.raises(InvalidArgument) as info:
        shop.agent_message("s1", agent_id=bad)  # type: ignore[arg-type]
    assert "agent" in str(info.value)
    with pytest.raises(BatchAborted) as batch:
        shop.apply([("agent_message", "s1", False, bad)])
    assert type(batch.value.cause) is InvalidArgument
    assert str(batch.value.cause) == str(info.value)
    # The session id is checked first, then auto, then the sender.
    with pytest.raises(InvalidArgument, match="session"):
        shop.agent_message("", agent_id=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="auto"):
        shop.agent_message("s1", "yes", bad)  # type: ignore[arg-type]
    assert shop.snapshot()["state"] == before


def test_S04_not_holder_is_a_kefu_error_and_a_value_error() -> None:
    err = NotHolder("s1", "A", "B", True)
    assert isinstance(err, KefuError) and isinstance(err, ValueError)
    assert not isinstance(err, InvalidArgument), "the arguments are fine; the state says no"


def test_S04_batches_take_the_sender_and_abort_on_a_non_holder(
    shop: Assigner, clock: ManualClock
) -> None:
    events = shop.apply([("at", 5.0), ("open_session", "s2", "b2"),  # -> B
                         ("agent_message", "s1", False, "A"), ("agent_message", "s2", True, "B"),
                         ("agent_message", "s2", False, None)])
    assert [type(e).__name__ for e in events] == ["Opened", "Assigned"]
    assert shop.next_deadline() == 5.0 + 600.0, "both answered: only auto close is pending"
    with pytest.raises(BatchAborted) as info:
        shop.apply([("at", 6.0), ("close_session", "s2"), ("agent_message", "s1", False, "B"),
                    ("close_session", "s1")])
    exc = info.value
    assert type(exc.cause) is NotHolder and exc.index == 2
    assert [type(e).__name__ for e in exc.events] == ["Closed"]
    assert exc.events[0].session_id == "s2"
    assert shop.session_ids() == ["s1"], "the commands after the failing one did not run"
