"""The discrete-event loop: a simulated day through the real Assigner.

Theory of operation
-------------------
The simulation is one more chat backend. It owns a :class:`ManualClock`
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

Randomness comes from separate streams: arrivals, buyers' scripts (drawn
whole at arrival: questions, think times, base reply delays, patience ...),
so two runs that differ only in staffing see the very same buyers (common
random numbers: a staffing curve is then smooth, not noisy).

The events, the messages the simulated people write, the bot's hand-overs
(HumanRequest) and evaluation cards are kept and measured afterwards by
:mod:`kefu.kpi`, exactly as a live day would be (see :mod:`kefu.sim.report`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable
from typing import Any

import attrs

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
from kefu.kpi import EvalSource, Evaluation, HumanRequest, Message, Rating, Sender
from kefu.kpi.window import day_bounds
from kefu.model import Cap
from kefu.sim.config import SimConfig, roster
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


class _Sess:
    """One buyer's session and its pre-drawn script (internal; slots for memory)."""

    __slots__ = (
        "agent",
        "assigned",
        "awaiting",
        "buyer",
        "close_delay",
        "closes",
        "gaps",
        "gave_up",
        "gen",
        "group",
        "k",
        "max_wait",
        "n",
        "open",
        "opened",
        "patience",
        "queued",
        "rate_u",
        "replies",
        "sid",
        "wait",
        "waiting",
    )

    def __init__(self, sid: str, buyer: str, group: str | None) -> None:
        self.sid = sid
        self.buyer = buyer
        self.group = group
        self.agent: str | None = None
        self.gen = 0
        self.k = 0  # questions answered so far
        self.n = 1  # questions in the whole conversation
        self.replies: list[float] = []  # base reply delay of each question
        self.gaps: list[float] = []  # think time before questions 2..n
        self.patience = math.inf
        self.closes = False  # the agent closes it (else auto close)
        self.close_delay = 0.0
        self.rate_u = -1.0  # < 0: no evaluation card; else the uniform draw of the rating
        self.open = False
        self.waiting = False
        self.queued = False  # waited in a pool at some point
        self.gave_up = False
        self.opened = math.nan
        self.assigned = math.nan  # first hand-over to an agent
        self.wait = math.nan  # pool time before the first agent (or before giving up)
        self.awaiting = -1.0  # time of the unanswered buyer question, or -1
        self.max_wait = 0.0


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
    """What a run produced: the raw records for the KPIs plus the driver's own tallies."""

    config: SimConfig
    engine: str
    t0: float  # the day's local midnight, POSIX seconds
    events: list[Event]
    messages: list[Message]
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


def simulate(config: SimConfig, *, engine: EngineName = "auto",
             progress: Progress | None = None) -> SimResult:
    """Run one simulated day of ``config`` through a real Assigner; deterministic per seed."""
    return _Run(config, engine, progress).run()


def arrival_times(config: SimConfig, t0: float) -> list[float]:
    """Poisson arrivals at each minute's rate (exact for a piecewise-constant rate)."""
    rng = random.Random(f"kefu.sim:{config.seed}:arrivals")
    expo = rng.expovariate
    out: list[float] = []
    for minute, rate in enumerate(config.workload.profile.rates):
        if rate <= 0:
            continue
        per_second = rate / 60.0
        start = t0 + 60.0 * minute
        end = start + 60.0
        t = start + expo(per_second)
        while t < end:  # memoryless: what spills past the minute restarts at the next rate
            out.append(t)
            t += expo(per_second)
    return out


class _Run:
    """One run's state; :meth:`run` is the loop, :meth:`apply` reads events back."""

    def __init__(self, config: SimConfig, engine: EngineName, progress: Progress | None) -> None:
        self.config = config
        self.progress = progress
        shop = config.shop
        wl = config.workload
        self.t0, _ = day_bounds(config.day, config.tz)
        self.clock = ManualClock(self.t0)
        self.shop = Assigner(
            self.clock, strategy=shop.strategy, offline_diversion=shop.offline_diversion,
            auto_close_after=shop.auto_close, first_response_timeout=shop.first_response_timeout,
            engine=engine,
        )
        self.plan = roster(shop, wl.groups)
        self.heap: list[tuple[float, int, int, Any, int]] = []
        self.seq = itertools.count()
        self.sessions: dict[str, _Sess] = {}
        self.all: list[_Sess] = []
        self.events: list[Event] = []
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
        self.draw = draw = random.Random(f"kefu.sim:{config.seed}:buyers")
        self._rounds = wl.rounds.sampler(draw)
        self._reply = wl.reply_delay.sampler(draw)
        self._gap = wl.buyer_gap.sampler(draw)
        self._patience = wl.patience.sampler(draw) if wl.patience is not None else None
        self._close_delay = wl.close_delay.sampler(draw)
        self._bot_time = wl.bot_time.sampler(draw)
        acc = 0.0
        self._group_cum: list[tuple[str, float]] = []
        for name, share in wl.groups:
            acc += share
            self._group_cum.append((name, acc))
        self._group_total = acc

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
        m = self._minute(t)
        if c > self.s_cmax[m]:
            self.s_cmax[m] = c
            if c > self.peak:
                self.peak = c
                self.peak_at = t
        self.s_clast[m] = c

    # -- scheduling ------------------------------------------------------------

    def push(self, t: float, kind: int, obj: Any, gen: int = -1) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), kind, obj, gen))

    def schedule_reply(self, s: _Sess, now: float) -> None:
        """The serving agent answers after a delay that grows with their load."""
        a = s.agent
        assert a is not None
        if self.working[a]:
            delay = s.replies[s.k] * (1.0 + self.slowdown * self.load[a])
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
        """Track where every session is, from the events a command returned."""
        self.events.extend(events)
        sessions = self.sessions
        for ev in events:
            if isinstance(ev, Assigned):
                s = sessions[ev.session_id]
                if s.waiting:
                    s.waiting = False
                    self._queue_change(ev.at, -1)
                if s.assigned != s.assigned:  # NaN: the first hand-over
                    s.assigned = ev.at
                    s.wait = ev.at - s.opened
                    self.s_waits[self._minute(s.opened)] += s.wait
                a = ev.agent_id
                s.agent = a
                s.gen += 1
                self.load[a] += 1
                self.handled[a] += 1
                if s.awaiting >= 0:
                    self.schedule_reply(s, ev.at)
            elif isinstance(ev, Opened):
                self._conc_change(ev.at, 1)
            elif isinstance(ev, Closed):
                s = sessions.pop(ev.session_id)
                s.open = False
                s.gen += 1
                if s.waiting:
                    s.waiting = False
                    self._queue_change(ev.at, -1)
                if ev.agent_id is not None:
                    self._left(ev.agent_id)
                if ev.reason is CloseReason.AUTO:
                    self.auto_closed += 1
                self._conc_change(ev.at, -1)
            elif isinstance(ev, Queued):
                s = sessions[ev.session_id]
                s.waiting = True
                s.queued = True
                self._queue_change(ev.at, 1)
                if s.patience < math.inf:
                    self.push(ev.at + s.patience, _ABANDON, s, s.gen)
            elif isinstance(ev, (Reassigned, Transferred)):
                s = sessions[ev.session_id]
                self._left(ev.from_agent)
                s.agent = ev.to_agent
                s.gen += 1
                self.load[ev.to_agent] += 1
                self.handled[ev.to_agent] += 1
                if s.awaiting >= 0:
                    self.schedule_reply(s, ev.at)
            elif isinstance(ev, Requeued):
                s = sessions[ev.session_id]
                self._left(ev.agent_id)
                s.agent = None
                s.gen += 1
            # ResponseTimedOut: the Reassigned that may follow says what matters.

    # -- the buyers -------------------------------------------------------------

    def _new_session(self, n: int, draw: random.Random) -> tuple[_Sess, bool, bool, float]:
        """Draw one buyer's whole script; returns (session, bot first, bot resolves, bot time)."""
        wl = self.config.workload
        rand = draw.random
        group: str | None = None
        if wl.groups:
            u = rand() * self._group_total
            for name, acc in self._group_cum:
                group = name
                if u < acc:
                    break
        sid = f"s{n}"
        s = _Sess(sid, f"b{n}", group)
        bot = rand() < wl.bot_share
        resolves = bot and rand() < wl.bot_resolve
        bot_time = self._bot_time() if bot else 0.0
        k = s.n = max(1, int(self._rounds()))
        reply = self._reply
        s.replies = [reply() for _ in range(k)]
        gap = self._gap
        s.gaps = [gap() for _ in range(k - 1)]
        s.patience = self._patience() if self._patience is not None else math.inf
        s.closes = rand() < wl.agent_close
        s.close_delay = self._close_delay()
        if rand() < wl.rate_share:
            s.rate_u = rand()
        return s, bot, resolves, bot_time

    def open(self, s: _Sess, t: float) -> None:
        s.open = True
        s.opened = t
        s.awaiting = t  # open_session counts as the buyer's first message
        self.sessions[s.sid] = s
        self.all.append(s)
        m = self._minute(t)
        self.s_opened[m] += 1
        self.apply(self.shop.open_session(s.sid, buyer=s.buyer, group=s.group))

    # -- the loop ---------------------------------------------------------------

    def run(self) -> SimResult:
        started = time.perf_counter()
        cfg = self.config
        wl = cfg.workload
        draw = self.draw
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

        arrivals = arrival_times(cfg, t0)
        n_arr = len(arrivals)
        msgs: list[tuple[str, str, float, Sender, str | None]] = []
        add_msg = msgs.append
        requests: list[HumanRequest] = []
        evaluations: list[Evaluation] = []
        heap = self.heap
        pop = heapq.heappop
        push = heapq.heappush
        seq = self.seq
        shop = self.shop
        set_clock = self.clock.set
        next_deadline = shop.next_deadline
        apply = self.apply
        buyer_s, agent_s, bot_s = Sender.BUYER, Sender.AGENT, Sender.BOT
        bot_only = 0
        inf = math.inf
        ai = 0
        day_len = 60.0 * wl.profile.minutes
        progress = self.progress
        next_report = t0
        step = day_len / 200
        while True:
            d = next_deadline()
            if d is None:
                d = inf
            ta = arrivals[ai] if ai < n_arr else inf
            th = heap[0][0] if heap else inf
            if progress is not None:
                now = min(d, ta, th)
                if next_report <= now < inf:
                    progress(min(1.0, (now - t0) / day_len), now - t0, len(self.all))
                    next_report = now + step
            if d <= ta and d <= th:
                if d == inf:
                    break
                set_clock(d)
                apply(shop.tick())
                continue
            if ta <= th:
                ai += 1
                set_clock(ta)
                s, bot, resolves, bot_time = self._new_session(ai, draw)
                self.s_arrivals[self._minute(ta)] += 1
                if bot:
                    add_msg((s.sid, s.buyer, ta, buyer_s, None))
                    add_msg((s.sid, s.buyer, ta + 1.0, bot_s, None))
                    if resolves:
                        bot_only += 1
                    else:
                        push(heap, (ta + 1.0 + bot_time, next(seq), _HANDOVER, s, -1))
                    continue
                self.open(s, ta)
                continue
            t, _, kind, obj, gen = pop(heap)
            set_clock(t)
            if kind == _REPLY:
                s = obj
                if gen != s.gen or s.awaiting < 0:
                    continue  # the session moved or closed since this reply was planned
                a = s.agent
                shop.agent_message(s.sid)
                add_msg((s.sid, s.buyer, t, agent_s, a))
                waited = t - s.awaiting
                if waited > s.max_wait:
                    s.max_wait = waited
                s.awaiting = -1.0
                k = s.k = s.k + 1
                if k < s.n:
                    push(heap, (t + s.gaps[k - 1], next(seq), _BUYER, s, -1))
                    continue
                if s.rate_u >= 0:
                    evaluations.append(self._evaluation(s, t + 1.0, a))
                if s.closes:
                    push(heap, (t + s.close_delay, next(seq), _CLOSE, s, -1))
            elif kind == _BUYER:
                s = obj
                if not s.open:
                    continue  # auto closed while the buyer was thinking
                shop.buyer_message(s.sid)
                add_msg((s.sid, s.buyer, t, buyer_s, None))
                s.awaiting = t
                if s.agent is not None:
                    self.schedule_reply(s, t)
            elif kind == _CLOSE:
                s = obj
                if s.open:
                    self.agent_closed += 1
                    apply(shop.close_session(s.sid))
            elif kind == _ABANDON:
                s = obj
                if s.open and s.waiting and gen == s.gen:
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
        if progress is not None:
            progress(1.0, self.clock.now() - t0, len(self.all))
        self._queue_to(self.clock.now())
        return self._result(msgs, requests, evaluations, n_arr, bot_only, started)

    # -- shifts -----------------------------------------------------------------

    def _shift_on(self, a: str, t: float) -> None:
        self.working[a] = True
        self.finishing[a] = False
        self.apply(self.shop.agent_online(a))
        waiting, self.deferred[a] = self.deferred[a], []
        for s in waiting:
            if s.open and s.agent == a and s.awaiting >= 0:
                self.schedule_reply(s, t)

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

    def _evaluation(self, s: _Sess, at: float, agent: str | None) -> Evaluation:
        """The buyer rates the service; worse the longer they waited for an answer."""
        u = s.rate_u
        for limit, p_satisfied, p_normal in _RATING_BANDS:
            if s.max_wait <= limit:
                rating = (Rating.SATISFIED if u < p_satisfied else
                          Rating.NORMAL if u < p_normal else Rating.DISAPPOINTED)
                break
        return Evaluation(s.sid, s.buyer, agent, at, rating, EvalSource.INVITED)

    def _result(self, msgs: list[tuple[str, str, float, Sender, str | None]],
                requests: list[HumanRequest], evaluations: list[Evaluation], arrivals: int,
                bot_only: int, started: float) -> SimResult:
        messages = [
            Message(sid, buyer, at, sender, f"m{i}", agent)
            for i, (sid, buyer, at, sender, agent) in enumerate(msgs)
        ]
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
            messages=messages,
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
            end=self.clock.now(),
            series=Series(self.s_arrivals, cmax, qmax, self.s_qarea, self.s_waits,
                          self.s_opened, self.s_abandoned),
            log=log,
            wall_seconds=time.perf_counter() - started,
        )

