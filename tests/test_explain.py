"""R29: ``Assigner.explain`` says why each agent may or may not take a session now.

Worked examples, one per reason, on every engine. The stateful lockstep
test (tests/test_stateful.py) checks the same verdicts after every random
operation, against the rule's text and the event ledger, and that a waiting
session never has an eligible agent (R06).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from kefu import Assigner, Cap, ManualClock, SessionState, Strategy
from kefu.errors import InvalidArgument, KefuError
from kefu.explain import AgentEligibility, Reason

Make = Callable[..., Assigner]


def verdicts(a: Assigner, sid: str) -> dict[str, tuple[Reason, ...]]:
    e = a.explain(sid)
    return {v.agent_id: v.reasons for v in e.agents}


def test_R29_every_reason_for_a_waiting_session(make: Make, clock: ManualClock) -> None:
    a = make(strategy=Strategy.WEIGHTED, first_response_timeout=30.0, auto_close_after=None)
    a.add_agent("full", cap=1, online=True)
    a.add_agent("timer", cap=2, online=True)
    a.add_agent("other", cap=5, groups={"aftersale"}, online=True)
    a.add_agent("away", cap=5, online=False)
    a.add_agent("paused", cap=Cap.SUSPENDED, online=True)
    a.add_agent("zero", cap=5, weight=0, online=True)
    a.open_session("s1", buyer="b1", group="presale")  # -> full (first in stride order)
    a.open_session("s2", buyer="b2", group="presale")  # -> timer
    assert a.session("s2").agent_id == "timer"
    a.set_cap("timer", 1)
    clock.set(31.0)
    a.agent_message("s1")
    a.tick()  # s2 times out on "timer", who is full: it has nowhere to go and stays
    a.set_cap("timer", 2)
    a.open_session("s3", buyer="b3", group="presale")  # -> timer (room again)
    a.open_session("s4", buyer="b4", group="presale")  # nobody: waits
    assert a.session("s4").state is SessionState.WAITING
    assert verdicts(a, "s4") == {
        "full": (Reason.FULL,),
        "timer": (Reason.FULL,),
        "other": (Reason.WRONG_GROUP,),
        "away": (Reason.OFFLINE,),
        "paused": (Reason.SUSPENDED,),
        "zero": (Reason.WEIGHT_ZERO,),
    }
    assert a.explain("s4").eligible == ()
    # s2 is held by "timer", who let it time out: holds it, and is not eligible for it.
    s2 = a.explain("s2").of("timer")
    assert s2 == AgentEligibility("timer", False, (Reason.FULL, Reason.TIMED_OUT), holds=True)
    assert a.session("s2").timed_out == frozenset({"timer"})


def test_R29_reasons_combine_and_clear_as_the_state_changes(make: Make) -> None:
    a = make()
    a.add_agent("bob", cap=Cap.SUSPENDED, groups={"aftersale"})
    a.open_session("s1", group="presale")
    assert a.explain("s1").of("bob").reasons == (
        Reason.WRONG_GROUP, Reason.OFFLINE, Reason.SUSPENDED)
    a.remove_agent("bob")
    a.add_agent("bob", cap=1, online=True)  # eligible now: s1 drains to him at once (R05)
    assert a.session("s1").agent_id == "bob"
    e = a.explain("s1")
    assert (e.state, e.group, e.eligible) == (SessionState.ASSIGNED, "presale", ())
    assert e.of("bob") == AgentEligibility("bob", False, (Reason.FULL,), holds=True)


def test_R29_offline_diversion_makes_offline_agents_eligible(make: Make) -> None:
    a = make(offline_diversion=True)
    a.add_agent("alice", cap=1)  # offline
    a.add_agent("bob", cap=1, groups={"aftersale"}, online=True)
    a.open_session("s1", group="presale")  # nobody online serves presale: diverted (R09)
    assert a.session("s1").agent_id == "alice"
    a.open_session("s2", group="presale")
    e = a.explain("s2")
    assert e.of("alice").reasons == (Reason.FULL,)
    a.set_cap("alice", 2)  # room again: s2 drains to her
    assert a.session("s2").agent_id == "alice"
    a.open_session("s3", group="aftersale")
    assert a.explain("s3").of("alice").reasons == (Reason.OFFLINE, Reason.FULL)  # bob serves it
    a.set_cap("alice", 3)
    a.close_session("s3")
    a.open_session("s4", group="presale")
    assert a.session("s4").agent_id == "alice"
    a.set_cap("alice", 4)
    verdict = a.explain("s4").of("alice")
    assert (verdict.eligible, verdict.diverted, verdict.holds) == (True, True, True)


def test_R29_explain_refuses_what_session_refuses(make: Make) -> None:
    a = make()
    with pytest.raises(KefuError) as unknown:
        a.explain("nope")
    with pytest.raises(type(unknown.value), match=re.escape(str(unknown.value))):
        a.session("nope")
    with pytest.raises(InvalidArgument):
        a.explain(42)  # type: ignore[arg-type]
    a.open_session("s1")
    assert a.explain("s1").agents == ()  # no agent registered: nothing to say
    with pytest.raises(KeyError):
        a.explain("s1").of("ghost")
