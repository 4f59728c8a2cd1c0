"""The discrete-event loop: a simulated day through the real Assigner.

Theory of operation
-------------------
The simulation is one more chat backend. It owns a clock it moves itself
and one :class:`~kefu.Assigner` for the shop, and moves time forward to the
earliest of three things: the next buyer arrival (pre-drawn, sorted), the
top of its own event heap (replies, buyer messages, closes, give-ups, bot
hand-overs, shift changes) and the Assigner's ``next_deadline()`` (auto
close, first-response timeouts), which it serves with ``tick()`` (R20).

Every command's events are read back (:meth:`_Run.apply`) to learn where each
session is, so the next reply is scheduled for the right agent. A session's
``gen`` counts its moves; a heap entry carries the ``gen`` it was made for
and is skipped when the session has moved on since (lazy cancellation, as
the engines' timer heaps do). Heap entries are plain tuples ``(time, seq,
kind, session or agent, gen)``; ``seq`` breaks ties in push order, so a run
is a pure function of its config and seed.

Randomness is drawn before the loop starts, in bulk
(:mod:`kefu.sim.draws`): arrivals and every buyer's script (questions,
think times, base reply delays, patience ...), from separate streams, so two
runs that differ only in staffing see the very same buyers (common random
numbers: a staffing curve is then smooth, not noisy). The Assigner's
``next_deadline()`` is read only when it may be due: a command at time t
sets no timer due before t plus the shortest timer delay of the shop, so
the loop keeps a lower bound of the deadline and asks when the bound is
reached.

The events, the messages the simulated people write (as columns), the KPI
records the events mean (made as they come, by ``kpi.from_events``' rules),
the bot's hand-overs (HumanRequest) and evaluation cards are kept and
measured afterwards by :mod:`kefu.kpi`, as a live day would be (see
:mod:`kefu.sim.report`).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import time
from array import array
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from kefu.assigner import Assigner, EngineName
from kefu.clock import ManualClock
from kefu.events import (
    Assigned,
    Closed,
    CloseReason,
    Event,
    Opened,
    Queued,
    Reassigned,
    Requeued,
    Transferred,
)
from kefu.kpi import (
    SENDER_CODES,
    EvalSource,
    Evaluation,
    Handover,
    HumanRequest,
    Message,
    MessageTable,
    Rating,
    Records,
    Release,
    Sender,
    SessionEnd,
)
from kefu.kpi.window import day_bounds
from kefu.model import Cap
from kefu.sim.config import SimConfig, roster
from kefu.sim.draws import draw_buyers
from kefu.sim.workload import DAY_MINUTES

__all__ = ["ENGINE_NAMES", "Progress", "Series", "SessionLog", "SimResult", "simulate"]

#: Assigner.engine -> the name kefu.ENGINE uses.
ENGINE_NAMES = {"c": "cython", "py": "python", "naive": "naive"}

Progress = Callable[[float, float, int], None]
"""Called now and then with (share of the profile simulated, seconds since 00:00, sessions)."""

# Heap entry kinds.
_REPLY = 0  # the agent answers the buyer's open question
_BUYER = 1  # the buyer asks the next question
_CLOSE = 2  # the agent closes the finished conversation
_ABANDON = 3  # the buyer's patience in a pool runs out
_HANDOVER = 4  # the bot hands the buyer to human service (转人工)
_SHIFT_ON = 5
_SHIFT_OFF = 6

_SERIES_MINUTES = 2 * DAY_MINUTES + 1  # the day, the spill-over, and one bucket for later

# Rating chances (satisfied, normal) by the session's longest wait for an answer.
_RATING_BANDS = ((60.0, 0.90, 0.98), (180.0, 0.75, 0.93), (math.inf, 0.45, 0.75))


def _silent(_share: float, _at: float, _sessions: int) -> None:
    """The progress callback of a run nobody watches."""


class _Sess:
    """One buyer's session: where it is now (internal; slots for memory).

    The buyer's script stays in the day's :class:`~kefu.sim.draws.Buyers`:
    ``r0`` and ``g0`` are where this buyer's reply delays and think times start.
    """

    __slots__ = (
        "agent",
        "assigned",
        "awaiting",
        "buyer",
        "g0",
        "gave_up",
        "gen",
        "group",
        "i",
        "k",
        "max_wait",
        "n",
        "open",
        "opened",
        "patience",
        "queued",
        "r0",
        "said_at_open",
        "sid",
        "wait",
        "waiting",
    )

    def __init__(self, i: int, n: int, r0: int, patience: float, group: str | None) -> None:
        self.i = i  # the buyer's index in the day (0-based)
        self.sid = f"s{i + 1}"
        self.buyer = f"b{i + 1}"
        self.group = group
        self.agent: str | None = None
        self.gen = 0
        self.k = 0  # questions answered so far
        self.n = n  # questions in the whole conversation
        self.r0 = r0
        self.g0 = r0 - i - 1  # the think time before question k + 1 is gaps[g0 + k]
        self.patience = patience
        self.open = False
        self.waiting = False
        self.queued = False  # waited in a pool at some point
        self.gave_up = False
        self.opened = math.nan
        self.assigned = math.nan  # first hand-over to an agent
        self.wait = math.nan  # pool time before the first agent (or before giving up)
        self.awaiting = -1.0  # time of the unanswered buyer question, or -1
        self.max_wait = 0.0
        self.said_at_open = False  # the buyer wrote at the very instant the session opened


@attrs.frozen
class Series:
    """Per-minute figures from the day's 00:00 (the last bucket holds everything later).

    Minutes are elapsed time since local midnight, as the profile's are: on a
    day with a DST change the wall clock differs by an hour after it.
    """

    arrivals: list[int]
    max_concurrent: list[int]
    max_queue: list[int]
    queue_area: list[float]  # queue length integrated over the minute (length x seconds)
    waits: list[float]  # sum of pool waits of sessions opened in the minute
    opened: list[int]  # sessions opened in the Assigner in the minute
    abandoned: list[int]  # buyers who gave up, by the minute their session opened


@attrs.frozen
class SessionLog:
    """Per session that reached the Assigner: when it opened, its pool wait, how it ended."""

    opened: list[float]
    wait: list[float]  # NaN: never reached an agent and did not give up (still waiting)
    queued: list[bool]
    abandoned: list[bool]


@attrs.frozen(kw_only=True)
class SimResult:
    """What a run produced: the raw records for the KPIs plus the driver's own tallies.

    ``message_columns`` holds the messages the simulated people wrote, as the
    keyword arguments of :class:`~kefu.kpi.MessageTable` (``at`` a float64 and
    ``sender`` an int8 numpy array of codes, the ids one list each; message ``k``
    has the id ``f"m{k}"``); ``table`` is that table and
    ``messages`` the same as Message records, each made on first use (O(messages)).
    ``records`` and ``openings`` are what ``kpi.from_events(events, messages)``
    adds to those messages: the hand-overs, releases and session ends the
    events mean (``records.messages`` is empty), and the openings counted as
    the buyer's first message, as columns (``at``, ``session_id``, ``buyer_id``,
    ``message_id``; the sender is the buyer).
    """

    config: SimConfig
    engine: str
    t0: float  # the day's local midnight, POSIX seconds
    events: list[Event]
    message_columns: dict[str, Any] = attrs.field(repr=False)
    records: Records = attrs.field(repr=False)
    openings: dict[str, list[Any]] = attrs.field(repr=False)
    requests: list[HumanRequest]
    evaluations: list[Evaluation]
    agents: list[str]
    handled: dict[str, int]  # sessions each agent received
    arrivals: int
    sessions: int
    bot_only: int
    abandoned: int
    agent_closed: int
    auto_closed: int
    unserved: int  # still open when nothing else could happen
    queued: int
    peak_concurrent: int
    peak_at: float
    max_queue: int
    end: float  # time of the last thing that happened
    series: Series
    log: SessionLog
    wall_seconds: float

    @functools.cached_property
    def table(self) -> MessageTable:
        """The messages the simulated people wrote, as a table (checked once, when made)."""
        return MessageTable(**self.message_columns)

    @functools.cached_property
    def messages(self) -> list[Message]:
        """The messages the simulated people wrote, as records, in the order written."""
        return self.table.to_records()


def simulate(config: SimConfig, *, engine: EngineName = "auto",
             progress: Progress | None = None) -> SimResult:
    """Run one simulated day of ``config`` through a real Assigner; deterministic per seed.

    Cost: O(buyers' messages x log(open sessions)). A day makes millions of
    acyclic objects; ``python -m kefu`` pauses the cyclic garbage collector
    for that reason, and a program of yours running many days may do the same.
    """
    return _Run(config, engine, progress).run()


class _Run:
    """One run's state; :meth:`run` is the loop, :meth:`apply` reads events back."""

    def __init__(self, config: SimConfig, engine: EngineName, progress: Progress | None) -> None:
        self.config = config
        self.progress = progress
        shop = config.shop
        wl = config.workload
        self.t0, _ = day_bounds(config.day, config.tz)
        # A ManualClock the Assigner reads from its slot, without a call: the loop
        # writes the slot (``_now``) itself, to times it took from the heap or the
        # arrivals, which are finite and never go back.
        self.clock = ManualClock(self.t0)
        self.shop = Assigner(
            self.clock, strategy=shop.strategy, offline_diversion=shop.offline_diversion,
            auto_close_after=shop.auto_close, first_response_timeout=shop.first_response_timeout,
            engine=engine,
        )
        self.plan = roster(shop, wl.groups)
        self.buyers = draw_buyers(config, self.t0)
        self.replies = self.buyers.replies
        self.heap: list[tuple[float, int, int, Any, int]] = []
        self.seq = itertools.count()
        self.sessions: dict[str, _Sess] = {}
        self.all: list[_Sess] = []
        self.events: list[Event] = []
        self.handovers: list[Handover] = []
        self.releases: list[Release] = []
        self.ends: list[SessionEnd] = []
        self.load: dict[str, int] = {}
        self.working: dict[str, bool] = {}
        self.finishing: dict[str, bool] = {}
        self.deferred: dict[str, list[_Sess]] = {}
        self.handled: dict[str, int] = {}
        self.slowdown = wl.load_slowdown
        self.conc = 0
        self.queue = 0
        self.peak = 0
        self.peak_at = self.t0
        self.max_queue = 0
        self.abandoned = 0
        self.agent_closed = 0
        self.auto_closed = 0
        n = _SERIES_MINUTES
        self.s_arrivals = [0] * n
        self.s_cmax = [0] * n
        self.s_clast = [-1] * n
        self.s_qmax = [0] * n
        self.s_qlast = [-1] * n
        self.s_qarea = [0.0] * n
        self.s_waits = [0.0] * n
        self.s_opened = [0] * n
        self.s_abandoned = [0] * n
        self.q_t = self.t0  # queue area integrated up to here
        self.q_m = 0
        self.q_edge = self.t0 + 60.0

    # -- per-minute series ---------------------------------------------------

    def _minute(self, t: float) -> int:
        m = int((t - self.t0) // 60.0)
        return m if m < _SERIES_MINUTES else _SERIES_MINUTES - 1

    def _queue_to(self, t: float) -> None:
        """Integrate the queue length up to ``t`` (split at minute edges)."""
        q = self.queue
        area = self.s_qarea
        last = _SERIES_MINUTES - 1
        while t > self.q_edge and self.q_m < last:
            area[self.q_m] += q * (self.q_edge - self.q_t)
            self.q_t = self.q_edge
            self.q_m += 1
            self.q_edge += 60.0
        area[self.q_m] += q * (t - self.q_t)
        self.q_t = t

    def _queue_change(self, t: float, delta: int) -> None:
        self._queue_to(t)
        q = self.queue = self.queue + delta
        m = self._minute(t)
        if q > self.s_qmax[m]:
            self.s_qmax[m] = q
            if q > self.max_queue:
                self.max_queue = q
        self.s_qlast[m] = q

    def _conc_change(self, t: float, delta: int) -> None:
        c = self.conc = self.conc + delta
        m = int((t - self.t0) // 60.0)  # _minute, inline: twice a session
        if m >= _SERIES_MINUTES:
            m = _SERIES_MINUTES - 1
        if c > self.s_cmax[m]:
            self.s_cmax[m] = c
            if c > self.peak:
                self.peak = c
                self.peak_at = t
        self.s_clast[m] = c

    # -- scheduling ------------------------------------------------------------

    def push(self, t: float, kind: int, obj: Any, gen: int = -1) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), kind, obj, gen))

    def schedule_reply(self, s: _Sess, a: str, now: float) -> None:
        """Agent ``a``, who holds ``s``, answers after a delay that grows with their load."""
        if self.working[a]:
            delay = self.replies[s.r0 + s.k] * (1.0 + self.slowdown * self.load[a])
            heapq.heappush(self.heap, (now + delay, next(self.seq), _REPLY, s, s.gen))
        else:
            self.deferred[a].append(s)  # answered when the agent is back on line

    def _left(self, a: str) -> None:
        """A session left agent ``a``; a finishing agent with nothing left stops working."""
        n = self.load[a] = self.load[a] - 1
        if n == 0 and self.finishing[a]:
            self.finishing[a] = False
            self.working[a] = False

    # -- reading the Assigner's events back ------------------------------------

    def apply(self, events: list[Event]) -> None:
        """Track where every session is, from the events a command returned.

        Dispatches on the exact event class (the engines make no subclasses);
        ResponseTimedOut needs nothing: the Reassigned that may follow says what matters.
        Each event's KPI records are made here, by the rules of ``kpi.from_events``
        (K11), with its place in the day's stream as their ``seq``; the simulated shop
        has no queue limits, so it never sees Overflowed or Rejected.
        """
        if not events:
            return
        seq = len(self.events)  # an event's place in the day's stream: its records' seq
        self.events.extend(events)
        sessions = self.sessions
        ev: Any  # each branch knows the exact class: no cast per event (a call each)
        for ev in events:
            kind = type(ev)
            if kind is Assigned:
                assigned = ev
                at = assigned.at
                s = sessions[assigned.session_id]
                if s.waiting:
                    s.waiting = False
                    self._queue_change(at, -1)
                if s.assigned != s.assigned:  # NaN: the first hand-over
                    s.assigned = at
                    s.wait = at - s.opened
                    self.s_waits[self._minute(s.opened)] += s.wait
                a = assigned.agent_id
                self.handovers.append(Handover(s.sid, s.buyer, a, at, s.group, seq))
                s.agent = a
                s.gen += 1
                self.load[a] += 1
                self.handled[a] += 1
                if s.awaiting >= 0:
                    self.schedule_reply(s, a, at)
            elif kind is Opened:
                self._conc_change(ev.at, 1)
            elif kind is Closed:
                closed = ev
                at = closed.at
                s = sessions.pop(closed.session_id)
                s.open = False
                s.gen += 1
                if s.waiting:
                    s.waiting = False
                    self._queue_change(at, -1)
                a = closed.agent_id
                if a is not None:
                    self.releases.append(Release(s.sid, a, at, seq))
                    self._left(a)
                self.ends.append(SessionEnd(s.sid, at, seq, s.group))
                if closed.reason is CloseReason.AUTO:
                    self.auto_closed += 1
                self._conc_change(at, -1)
            elif kind is Queued:
                queued = ev
                s = sessions[queued.session_id]
                s.waiting = True
                s.queued = True
                self._queue_change(queued.at, 1)
                if s.patience < math.inf:
                    self.push(queued.at + s.patience, _ABANDON, s, s.gen)
            elif kind is Reassigned or kind is Transferred:
                moved = ev
                s = sessions[moved.session_id]
                self.handovers.append(
                    Handover(s.sid, s.buyer, moved.to_agent, moved.at, s.group, seq))
                self._left(moved.from_agent)
                s.agent = moved.to_agent
                s.gen += 1
                self.load[moved.to_agent] += 1
                self.handled[moved.to_agent] += 1
                if s.awaiting >= 0:
                    self.schedule_reply(s, moved.to_agent, moved.at)
            elif kind is Requeued:
                requeued = ev
                s = sessions[requeued.session_id]
                self.releases.append(Release(s.sid, requeued.agent_id, requeued.at, seq))
                self._left(requeued.agent_id)
                s.agent = None
                s.gen += 1
            seq += 1

    # -- the buyers -------------------------------------------------------------

    def open(self, s: _Sess, t: float) -> None:
        s.open = True
        s.opened = t
        s.awaiting = t  # open_session counts as the buyer's first message
        self.sessions[s.sid] = s
        self.all.append(s)
        self.s_opened[self._minute(t)] += 1
        self.apply(self.shop.open_session(s.sid, buyer=s.buyer, group=s.group))

    # -- the loop ---------------------------------------------------------------

    def run(self) -> SimResult:
        started = time.perf_counter()
        cfg = self.config
        wl = cfg.workload
        t0 = self.t0
        cap = Cap.UNLIMITED if cfg.shop.cap is None else Cap.limit(cfg.shop.cap)
        for ap in self.plan:
            online = any(a <= 0 < b for a, b in ap.intervals)
            self.load[ap.agent_id] = 0
            self.handled[ap.agent_id] = 0
            self.working[ap.agent_id] = online
            self.finishing[ap.agent_id] = False
            self.deferred[ap.agent_id] = []
            groups = None if ap.group is None else (ap.group,)
            self.apply(self.shop.add_agent(ap.agent_id, cap=cap, groups=groups, online=online))
            for a, b in ap.intervals:
                if a > 0:
                    self.push(t0 + 60.0 * a, _SHIFT_ON, ap.agent_id)
                if b < DAY_MINUTES:
                    self.push(t0 + 60.0 * b, _SHIFT_OFF, ap.agent_id)

        day = self.buyers
        n_arr = len(day.arrivals)
        arrivals = [*day.arrivals, math.inf]  # a sentinel: no bounds check per step
        gaps, rounds, first, patience = day.gaps, day.rounds, day.first, day.patience
        groups_of, bot_of, resolves_of, bot_time = day.groups, day.bot, day.resolves, day.bot_time
        closes, close_delay, rate_u = day.closes, day.close_delay, day.rate_u
        # The messages people write, as columns (message k gets the id f"m{k}" at the end).
        m_at = array("d")
        m_sid: list[str] = []
        m_buyer: list[str] = []
        m_sender = array("b")
        m_agent: list[str | None] = []
        at_, sid_, buyer_, sender_, agent_ = (m_at.append, m_sid.append, m_buyer.append,
                                              m_sender.append, m_agent.append)
        requests: list[HumanRequest] = []
        evaluations: list[Evaluation] = []
        heap = self.heap
        pop = heapq.heappop
        push = heapq.heappush
        seq = self.seq
        shop = self.shop
        clock = self.clock
        next_deadline = shop.next_deadline
        apply = self.apply
        s_arrivals = self.s_arrivals
        last_minute = _SERIES_MINUTES - 1
        working, load, replies, slowdown = self.working, self.load, self.replies, self.slowdown
        buyer_s, agent_s, bot_s = (SENDER_CODES[Sender.BUYER], SENDER_CODES[Sender.AGENT],
                                   SENDER_CODES[Sender.BOT])
        bot_only = 0
        inf = math.inf
        ai = 0
        day_len = 60.0 * wl.profile.minutes
        progress = self.progress
        report = progress if progress is not None else _silent
        next_report = t0 if progress is not None else math.inf
        step = day_len / 200
        # The Assigner's next deadline is read only when it may be due. A command at time
        # t sets timers no earlier than t + the shortest timer delay (auto close, first
        # response), so min(the last reading, t + that delay) is never later than the true
        # deadline: ``bound``. A reading after a tick starts again from scratch.
        delays = [x for x in (cfg.shop.auto_close, cfg.shop.first_response_timeout)
                  if x is not None]
        min_delay = min(delays, default=inf)
        bound = -inf
        heap.append((inf, -1, _SHIFT_OFF, None, -1))  # a sentinel, never popped: inf is last
        while True:
            ta = arrivals[ai]
            th = heap[0][0]
            nxt = ta if ta < th else th
            if bound <= nxt:
                d = next_deadline()
                bound = inf if d is None else d
                if bound <= nxt:
                    if bound == inf:
                        break
                    clock._now = bound
                    apply(shop.tick())
                    bound = -inf
                    continue
            if next_report <= nxt:
                report(min(1.0, (nxt - t0) / day_len), nxt - t0, len(self.all))
                next_report = nxt + step
            if ta <= th:
                i = ai
                ai += 1
                clock._now = ta
                m = int((ta - t0) // 60.0)
                s_arrivals[m if m < last_minute else last_minute] += 1
                if bot_of[i]:
                    sid, buyer = f"s{ai}", f"b{ai}"
                    at_(ta)
                    at_(ta + 1.0)
                    sid_(sid)
                    sid_(sid)
                    buyer_(buyer)
                    buyer_(buyer)
                    sender_(buyer_s)
                    sender_(bot_s)
                    agent_(None)
                    agent_(None)
                    if resolves_of[i]:
                        bot_only += 1
                    else:
                        s = _Sess(i, rounds[i], first[i], patience[i], groups_of[i])
                        push(heap, (ta + 1.0 + bot_time[i], next(seq), _HANDOVER, s, -1))
                    continue
                self.open(_Sess(i, rounds[i], first[i], patience[i], groups_of[i]), ta)
                if ta + min_delay < bound:
                    bound = ta + min_delay
                continue
            t, _, kind, obj, gen = pop(heap)
            clock._now = t
            if kind == _REPLY:
                s = obj
                if gen != s.gen or s.awaiting < 0:
                    continue  # the session moved or closed since this reply was planned
                a = s.agent
                shop.agent_message(s.sid)
                at_(t)
                sid_(s.sid)
                buyer_(s.buyer)
                sender_(agent_s)
                agent_(a)
                waited = t - s.awaiting
                if waited > s.max_wait:
                    s.max_wait = waited
                s.awaiting = -1.0
                k = s.k = s.k + 1
                if k < s.n:
                    push(heap, (t + gaps[s.g0 + k], next(seq), _BUYER, s, -1))
                else:
                    i = s.i
                    if rate_u[i] >= 0:
                        evaluations.append(self._evaluation(s, rate_u[i], t + 1.0, a))
                    if closes[i]:
                        push(heap, (t + close_delay[i], next(seq), _CLOSE, s, -1))
            elif kind == _BUYER:
                s = obj
                if not s.open:
                    continue  # auto closed while the buyer was thinking
                shop.buyer_message(s.sid)
                if t == s.opened:
                    s.said_at_open = True  # then this message is the opening one (K11)
                at_(t)
                sid_(s.sid)
                buyer_(s.buyer)
                sender_(buyer_s)
                agent_(None)
                s.awaiting = t
                a = s.agent
                if a is not None:
                    if working[a]:  # schedule_reply, inline: the commonest event
                        delay = replies[s.r0 + s.k] * (1.0 + slowdown * load[a])
                        push(heap, (t + delay, next(seq), _REPLY, s, s.gen))
                    else:
                        self.deferred[a].append(s)
            elif kind == _CLOSE:
                s = obj
                if not s.open:
                    continue
                self.agent_closed += 1
                apply(shop.close_session(s.sid))
            elif kind == _ABANDON:
                s = obj
                if not (s.open and s.waiting and gen == s.gen):
                    continue
                self.abandoned += 1
                s.gave_up = True
                s.wait = t - s.opened
                self.s_waits[self._minute(s.opened)] += s.wait
                self.s_abandoned[self._minute(s.opened)] += 1
                apply(shop.close_session(s.sid))
            elif kind == _HANDOVER:
                s = obj
                requests.append(HumanRequest(s.sid, s.buyer, t))
                self.open(s, t)
            elif kind == _SHIFT_ON:
                self._shift_on(obj, t)
            else:
                self._shift_off(obj)
            if t + min_delay < bound:
                bound = t + min_delay
        if progress is not None:
            progress(1.0, clock._now - t0, len(self.all))
        self._queue_to(clock._now)
        columns: dict[str, Any] = {
            "at": np.frombuffer(m_at, dtype=np.float64), "session_id": m_sid,
            "buyer_id": m_buyer, "sender": np.frombuffer(m_sender, dtype=np.int8),
            "message_id": [f"m{k}" for k in range(len(m_at))], "agent_id": m_agent}
        return self._result(columns, requests, evaluations, n_arr, bot_only, started)

    # -- shifts -----------------------------------------------------------------

    def _shift_on(self, a: str, t: float) -> None:
        self.working[a] = True
        self.finishing[a] = False
        self.apply(self.shop.agent_online(a))
        waiting, self.deferred[a] = self.deferred[a], []
        for s in waiting:
            if s.open and s.agent == a and s.awaiting >= 0:
                self.schedule_reply(s, a, t)

    def _shift_off(self, a: str) -> None:
        if self.config.shop.handoff == "requeue":
            self.working[a] = False
            self.apply(self.shop.agent_offline(a, requeue=True))
        else:
            self.apply(self.shop.agent_offline(a))
            if self.load[a]:
                self.finishing[a] = True  # answers what is open, takes nothing new
            else:
                self.working[a] = False

    # -- results ----------------------------------------------------------------

    @staticmethod
    def _evaluation(s: _Sess, u: float, at: float, agent: str | None) -> Evaluation:
        """The buyer rates the service (``u``: their uniform draw); worse the longer they waited."""
        for limit, p_satisfied, p_normal in _RATING_BANDS:
            if s.max_wait <= limit:
                rating = (Rating.SATISFIED if u < p_satisfied else
                          Rating.NORMAL if u < p_normal else Rating.DISAPPOINTED)
                break
        return Evaluation(s.sid, s.buyer, agent, at, rating, EvalSource.INVITED)

    def _openings(self) -> dict[str, list[Any]]:
        """Each session's opening as a buyer message (K11), unless the buyer wrote then."""
        opened = [s for s in self.all if not s.said_at_open]
        return {"at": [s.opened for s in opened], "session_id": [s.sid for s in opened],
                "buyer_id": [s.buyer for s in opened],
                "message_id": [f"kefu:open:{s.sid}" for s in opened]}

    def _result(self, columns: dict[str, Any], requests: list[HumanRequest],
                evaluations: list[Evaluation], arrivals: int, bot_only: int,
                started: float) -> SimResult:
        cmax, clast = self.s_cmax, self.s_clast
        qmax, qlast = self.s_qmax, self.s_qlast
        c = q = 0
        for m in range(_SERIES_MINUTES):  # a minute without changes holds the level before it
            if cmax[m] < c:
                cmax[m] = c
            if clast[m] >= 0:
                c = clast[m]
            if qmax[m] < q:
                qmax[m] = q
            if qlast[m] >= 0:
                q = qlast[m]
        log = SessionLog(
            opened=[s.opened for s in self.all],
            wait=[s.wait for s in self.all],
            queued=[s.queued for s in self.all],
            abandoned=[s.gave_up for s in self.all],
        )
        return SimResult(
            config=self.config,
            engine=ENGINE_NAMES.get(self.shop.engine, self.shop.engine),
            t0=self.t0,
            events=self.events,
            message_columns=columns,
            records=Records(handovers=tuple(self.handovers), releases=tuple(self.releases),
                            ends=tuple(self.ends)),
            openings=self._openings(),
            requests=requests,
            evaluations=evaluations,
            agents=[ap.agent_id for ap in self.plan],
            handled=self.handled,
            arrivals=arrivals,
            sessions=len(self.all),
            bot_only=bot_only,
            abandoned=self.abandoned,
            agent_closed=self.agent_closed,
            auto_closed=self.auto_closed,
            unserved=len(self.sessions),
            queued=sum(1 for s in self.all if s.queued),
            peak_concurrent=self.peak,
            peak_at=self.peak_at,
            max_queue=self.max_queue,
            end=self.clock._now,
            series=Series(self.s_arrivals, cmax, qmax, self.s_qarea, self.s_waits,
                          self.s_opened, self.s_abandoned),
            log=log,
            wall_seconds=time.perf_counter() - started,
        )

