"""Why each agent may or may not take a session right now (R29).

``Assigner.explain(session_id)`` answers the question support staff ask
("why is this buyer still waiting?") and tests check: for every registered
agent, whether they are eligible for the automatic assignment of the
session, and if not, every reason why. The verdict follows the eligibility
rule the engines route by (see docs/rules.md): an agent is eligible when
they serve the session's group, are not away (R27), are not suspended, have
room under their cap for the session's capacity weight (R26: its weight
at most cap minus load), have a weight above 0 under WEIGHTED, have not let this session time
out (R18), and are online, or offline diversion is on and nobody serving
the group is online (R09). A waiting session past a step of its group's
escalation ladder (R24) may also go to the online agents that step brings in;
an agent that only a later step would bring in is NOT_YET rather than
WRONG_GROUP. After every call no waiting session has an
eligible agent (R06), so for a waiting session the reasons are exactly what
keeps it waiting.

It is computed from the same read-only views anyone can ask for
(:class:`~kefu.model.SessionView`, :class:`~kefu.model.AgentView`), so it
is identical on every engine. Cost: O(a) for a agents.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from kefu.model import AgentView, Config, LadderStep, SessionState, SessionView, Strategy

__all__ = ["AgentEligibility", "Explanation", "Reason", "explain"]


class Reason(enum.Enum):
    """Why an agent is not eligible for a session's automatic assignment."""

    WRONG_GROUP = "wrong_group"  # does not serve the session's group (R12)
    OFFLINE = "offline"  # offline, and offline diversion does not apply (R09)
    AWAY = "away"  # online but away: no automatic assignment (R27)
    SUSPENDED = "suspended"  # cap SUSPENDED (R01)
    FULL = "full"  # no room under the numeric cap for the session's weight (R01, R26)
    WEIGHT_ZERO = "weight_zero"  # weight 0 under the WEIGHTED strategy (R11)
    TIMED_OUT = "timed_out"  # let this session time out before (R18)
    NOT_YET = "not_yet"  # brought in by a step of the group's ladder not reached yet (R24)


@attrs.frozen
class AgentEligibility:
    """One agent's verdict for one session.

    ``reasons`` is empty exactly when ``eligible``; ``diverted`` marks an
    offline agent who is eligible through offline diversion (R09);
    ``holds`` marks the agent whose reception list holds the session.
    """

    agent_id: str
    eligible: bool
    reasons: tuple[Reason, ...]
    holds: bool = False
    diverted: bool = False


@attrs.frozen
class Explanation:
    """Every registered agent's verdict for one session, in registration order."""

    session_id: str
    group: str | None
    state: SessionState
    agents: tuple[AgentEligibility, ...]

    @property
    def eligible(self) -> tuple[str, ...]:
        """The agents eligible right now."""
        return tuple(a.agent_id for a in self.agents if a.eligible)

    def of(self, agent_id: str) -> AgentEligibility:
        """The verdict for one agent; KeyError for an agent that is not registered."""
        for a in self.agents:
            if a.agent_id == agent_id:
                return a
        raise KeyError(agent_id)


def _serves(agent: AgentView, group: str | None) -> bool:
    return agent.groups is None or group is None or group in agent.groups


def _brings_in(steps: Sequence[LadderStep], agent: AgentView) -> bool:
    """Some of ``steps`` brings ``agent`` in: a step for every agent, or one naming a group
    the agent serves."""
    return any(step.groups is None or agent.groups is None or bool(agent.groups & step.groups)
               for step in steps)


def explain(config: Config, session: SessionView, agents: Sequence[AgentView]) -> Explanation:
    """Each of ``agents``' eligibility for ``session`` under ``config`` (see the module doc).

    Reasons come in a fixed order: WRONG_GROUP or NOT_YET, OFFLINE, AWAY, SUSPENDED,
    FULL, WEIGHT_ZERO, TIMED_OUT. An agent a reached ladder step (R24) brings in serves
    the session, but only while online (offline diversion is for the session's own
    group). O(len(agents) x ladder steps).
    """
    group = session.group
    online_for_group = any(a.online and _serves(a, group) for a in agents)
    diversion = config.offline_diversion and not online_for_group
    weighted = config.strategy is Strategy.WEIGHTED
    size = 1 if session.kind is None else dict(config.session_kinds)[session.kind]  # R26
    steps: Sequence[LadderStep] = ()
    if group is not None and session.state is SessionState.WAITING:
        steps = dict(config.ladders).get(group, ())
    reached, later = steps[:session.step], steps[session.step:]
    verdicts = []
    for a in agents:
        reasons: list[Reason] = []
        laddered = False
        if not _serves(a, group):
            if _brings_in(reached, a):
                laddered = True
            elif _brings_in(later, a):
                laddered = True
                reasons.append(Reason.NOT_YET)
            else:
                reasons.append(Reason.WRONG_GROUP)
        if not a.online and (laddered or not diversion):
            reasons.append(Reason.OFFLINE)
        if a.away:
            reasons.append(Reason.AWAY)
        limit = a.cap.room_limit
        if limit == 0:
            reasons.append(Reason.SUSPENDED)
        elif limit is not None and a.load + size > limit:
            reasons.append(Reason.FULL)
        if weighted and a.weight == 0:
            reasons.append(Reason.WEIGHT_ZERO)
        if a.agent_id in session.timed_out:
            reasons.append(Reason.TIMED_OUT)
        verdicts.append(AgentEligibility(
            agent_id=a.agent_id, eligible=not reasons, reasons=tuple(reasons),
            holds=a.agent_id == session.agent_id, diverted=not reasons and not a.online))
    return Explanation(session_id=session.session_id, group=group, state=session.state,
                       agents=tuple(verdicts))
