"""The one walk over the timeline that forms every unit and sample (K02-K04, K06-K08).

Theory of operation. :class:`Measure` visits each session once. It finds
the session's shop clocks as runs (:mod:`kefu.kpi.clocks`), then each of
its stretches' agent clocks, and from each run takes what every KPI needs:

- shop units (K03): a run is a session-day. Under FIRST its first clock
  decides; under ANY its first clock over the threshold does (later clocks
  of a run start later, so if that one is merely pending so are the rest,
  and if it is missed it is the first missed one). Session-days fold into
  buyer-days: FIRST keeps the earliest session-day (by clock, then session
  id), ANY the worst (ties: the earlier deciding clock).
- agent units (K04): the first clock of each run of a stretch.
- response-time samples (K08): reply - clock of every answered clock, in
  calendar seconds and in in-window seconds. Only a wait answered after its
  window closed has in-window seconds different from its calendar seconds.

Two kernels walk (:mod:`kefu.kpi.kernel`): :meth:`Measure._walk` here, the
reference, and its compiled twin (``kefu.kpi._kernel_c.walk``) with the
same visits, arithmetic and counts, which calls the same helpers for the
rare cases (the live tracker's per-session split included).

Cost. The reply - start of every wait is computed once for the whole
timeline at C speed (``durations``); a run's samples are then a slice of
it with the first entry re-clocked, never a loop over its waits. Units are
counted straight into dicts keyed by what breaks them down (one increment
per unit, both shop bases in one key), and nothing is kept per wait or per
unit unless ``detail`` asks for the units. Sessions are visited in the
order they first appear and every tie is broken on values, so no result
depends on the input order.
"""

from __future__ import annotations

import datetime as dt
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from operator import add, sub

import numpy as np

from kefu.kpi import kernel
from kefu.kpi.clocks import CUT, MET, MISSED, PENDING, Run, human_clock, judge, one_run, runs
from kefu.kpi.kernel import sorted_doubles
from kefu.kpi.options import Options
from kefu.kpi.results import (
    EXCLUDED_CODE,
    STATUSES,
    DataQuality,
    Durations,
    HourCounts,
    Key,
    ResponseStats,
    ResponseTimes,
    Tally,
    Unit,
)
from kefu.kpi.timeline import INF, Timeline
from kefu.kpi.window import BeforeWindow, Calendar, local_instant

_MIDNIGHT = dt.time(0)

__all__ = ["NEVER_REACHED", "REACHED", "STILL_WAITING", "Measure", "Samples", "fate_of"]


# A unit's session and the agents (K02): an agent took it (or a human replied) by
# ``as_of``; not yet, and the session is still open; not, and it ended (gave up).
REACHED, STILL_WAITING, NEVER_REACHED = range(3)


def fate_of(tl: Timeline, j: int) -> int:
    """Whether session ``j`` reached an agent, still waits, or ended first (K02). O(1)."""
    if tl.reached[j] != INF:
        return REACHED
    return STILL_WAITING if tl.ended[j] == INF else NEVER_REACHED


_NO_DOUBLES = array("d")


class Samples:
    """Response-time samples of the shop or one agent (K08).

    ``rep``/``first`` hold durations whose in-window seconds equal their
    calendar seconds; the ``_xc``/``_xw`` columns hold the calendar and
    in-window seconds of the few that ran past their window's close. The
    common part is sorted once for both measures. (Arrays: a million floats
    in one object the garbage collector need not look into.)
    """

    __slots__ = ("first", "first_xc", "first_xw", "rep", "rep_xc", "rep_xw")

    def __init__(self) -> None:
        # Slices of an empty array: new arrays, made at half the cost of array("d")
        # (the live tracker's walk makes a Samples per session and agent).
        none = _NO_DOUBLES
        self.rep = none[:]
        self.rep_xc = none[:]
        self.rep_xw = none[:]
        self.first = none[:]
        self.first_xc = none[:]
        self.first_xw = none[:]

    def add_run(self, d: Sequence[float], common: int, wins: list[float]) -> None:
        """Samples of one run (non-empty ``d``, in time order): the first ``common``
        in-window as is, the rest with in-window seconds ``wins``."""
        if common:
            self.rep.extend(d[:common])
            self.first.append(d[0])
        else:
            self.first_xc.append(d[0])
            self.first_xw.append(wins[0])
        self.rep_xc.extend(d[common:])
        self.rep_xw.extend(wins)

    def add_one(self, cal_s: float, win_s: float | None, first: bool) -> None:
        """One sample; ``win_s`` None when its in-window seconds equal ``cal_s``."""
        if win_s is None:
            self.rep.append(cal_s)
            if first:
                self.first.append(cal_s)
            return
        self.rep_xc.append(cal_s)
        self.rep_xw.append(win_s)
        if first:
            self.first_xc.append(cal_s)
            self.first_xw.append(win_s)

    def result(self, **fields: object) -> ResponseTimes:
        """The samples summarised (count, mean, median, p90; K08)."""
        return ResponseTimes(
            first=_stats(self.first, self.first_xc, self.first_xw),
            replies=_stats(self.rep, self.rep_xc, self.rep_xw),
            **fields,  # type: ignore[arg-type]
        )


def _stats(rep: array[float], xc: array[float], xw: array[float]) -> ResponseStats:
    common = sorted_doubles(rep)
    if not xc:
        calendar = Durations.of_sorted(common)
        return ResponseStats(calendar, calendar)
    # The few that ran past their window's close join the rest: arrays all the way (no
    # float object per sample), sorted and summed by the active kernel.
    return ResponseStats(Durations.of_sorted(sorted_doubles(common + xc)),
                         Durations.of_sorted(sorted_doubles(common + xw)))


# A shop session-day's count key: (window index, group, FIRST code, FIRST at-risk,
# ANY code, ANY at-risk, exclusion reason, fate); split into the two bases' tallies after.
ShopKey = tuple[int, "str | None", int, bool, int, bool, "str | None", int]
# An agent unit's: (window index, group, agent, code, at-risk, exclusion reason).
AgentKey = tuple[int, "str | None", str, int, bool, "str | None"]


class Measure:
    """Units and samples of every session, from one walk (see the module docstring).

    ``shop``: form K03 units (both bases) and buyer-days; ``agents``: K04
    units; ``times``: K08 samples. Results are read by :mod:`kefu.kpi.reply`
    and :mod:`kefu.kpi.response`.
    """

    __slots__ = (
        "_a_code",
        "_a_end",
        "_a_fate",
        "_a_risk",
        "_a_start",
        "_agent_units",
        "_buyer_hours",
        "_buyer_tallies",
        "_f_c",
        "_f_code",
        "_f_end",
        "_f_fate",
        "_f_group",
        "_f_risk",
        "_f_sid",
        "_session_units",
        "_slot_buyer",
        "_slot_day",
        "agent_samples",
        "agent_tallies",
        "buyer_fates",
        "cal",
        "dropped",
        "opts",
        "quality",
        "session_fates",
        "session_tallies",
        "shop_samples",
        "split",
        "tl",
        "unanswered",
        "waiting",
    )

    # The samples the compiled walk makes per session and agent in split mode (the live
    # tracker's walk gives a cheaper class of the same fields).
    _samples_cls: type = Samples

    def __init__(self, tl: Timeline, opts: Options, cal: Calendar, *, shop: bool = True,
                 agents: bool = True, times: bool = True, split: bool = False) -> None:
        self.tl = tl
        # split=True (the live tracker): K08 samples and counts per session instead of
        # summed, ``split[j]`` = (shop samples, agents' samples, unanswered, dropped).
        self.split: dict[int, tuple[Samples, dict[str, Samples], int, int]] | None = (
            {} if split else None)
        self.opts = opts
        self.cal = cal
        self.quality: DataQuality = tl.quality
        self.session_tallies = (Tally(opts.detail), Tally(opts.detail))  # FIRST, ANY
        self.agent_tallies: dict[str, Tally] = {}
        self.shop_samples = Samples()
        self.agent_samples: dict[str, Samples] = {}
        self.unanswered = 0
        self.dropped = 0
        self.waiting: list[tuple[str, float]] = []  # (buyer, clock) of sessions waiting (K02)
        # Buyer-days (K03), one slot p each, in parallel columns.
        self._slot_buyer: list[str] = []
        self._slot_day: list[int] = []
        self._f_c: list[float] = []  # the earliest session-day: its first clock,
        self._f_sid: list[str] = []  # session, group, and FIRST code, reply, risk
        self._f_group: list[str | None] = []
        self._f_code: list[int] = []
        self._f_end: list[float] = []
        self._f_risk: list[bool] = []
        self._a_code: list[int] = []  # the worst session-day (ANY): code, clock, reply, risk
        self._a_start: list[float] = []
        self._a_end: list[float] = []
        self._a_risk: list[bool] = []
        self._f_fate: list[int] = []  # whether the deciding session reached an agent (K02):
        self._a_fate: list[int] = []  # REACHED, STILL_WAITING or NEVER_REACHED, per basis
        # Counted units whose deciding session had not reached an agent (K02), by fate:
        # per session-day and per buyer-day, FIRST and ANY.
        self.session_fates: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.buyer_fates: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # With detail=True: the session-days' units, FIRST and ANY (often the same object).
        self._session_units: tuple[list[Unit], list[Unit]] = ([], [])
        self._buyer_tallies: tuple[Tally, Tally] | None = None
        # With the buyer-day tallies: their counts by the hour of the first clock, per basis.
        self._buyer_hours: tuple[HourCounts, HourCounts] = ({}, {})
        self._agent_units: dict[str, list[Unit]] = {}  # with detail=True
        shop_counts: dict[ShopKey, int] = {}
        agent_counts: dict[AgentKey, int] = {}
        if kernel.ACTIVE != "c" or not kernel.compiled("walk")(
                self, shop, agents, times, shop_counts, agent_counts, self._samples_cls,
                runs):
            self._walk(shop, agents, times, shop_counts, agent_counts)
        self._tallies(shop_counts, agent_counts)

    # The walk ---------------------------------------------------------------------------

    def _walk(self, want_shop: bool, want_agents: bool, want_times: bool,
              shop_counts: dict[ShopKey, int], agent_counts: dict[AgentKey, int]) -> None:
        """Visit every session once (the hot loop: locals only, helpers for rare cases)."""
        tl, cal, opts = self.tl, self.cal, self.opts
        us, rs, wlo, s_lo, s_hi = tl.us, tl.rs, tl.wlo, tl.s_lo, tl.s_hi
        human = tl.human
        buyers, ids, groups = tl.buyers, tl.ids, tl.groups
        st_agents, st_groups, st_starts, st_ends = tl.agents, tl.sgroups, tl.starts, tl.ends
        closes = cal.closes
        T = opts.threshold
        as_of = opts.as_of
        warn = opts.warn_after
        live = as_of != INF  # real time: PENDING and at-risk units exist
        open_policy = opts.before_window is BeforeWindow.OPEN
        excluded = opts.excluded
        detail = opts.detail
        over = T.__lt__  # over(x) is x > T
        # reply - start of every wait (inf when unanswered), at C speed, once; + 0.0 makes
        # a zero one 0.0 (a reply at -0.0 to a wait from 0.0 gives -0.0), as the kernel's.
        durations = array("d", map(add, map(sub, rs, us), repeat(0.0, len(us))))
        shop_rep, shop_first = self.shop_samples.rep.extend, self.shop_samples.first.append
        agent_samples = self.agent_samples
        # Buyer-day slots by window index, then buyer (no tuple key per buyer-day:
        # fewer long-lived objects for the garbage collector to track).
        fold: dict[int, dict[str, int]] = {}
        slot_of: dict[str, int] = {}
        slot_day = -1
        f_c, f_sid, f_group, f_code, f_end, f_risk = (
            self._f_c, self._f_sid, self._f_group, self._f_code, self._f_end, self._f_risk)
        a_code_, a_start, a_end, a_risk_ = self._a_code, self._a_start, self._a_end, self._a_risk
        f_fate, a_fate = self._f_fate, self._a_fate
        unanswered = dropped = 0
        split = self.split
        opened: tuple[int, int, int] | None = None  # split: (session, unanswered, dropped)
        for j in range(len(ids)):
            # K02: a buyer in human service is a unit from their clock start, whether or
            # not an agent ever takes the session; a session the bot took is not one.
            c1 = human_clock(tl, j, T)
            if c1 == INF:
                continue
            if split is not None:  # this session's samples apart
                if opened is not None:
                    self._close_split(opened, unanswered, dropped)
                opened = (j, unanswered, dropped)
                self.shop_samples = Samples()
                agent_samples = self.agent_samples = {}
                split[j] = (self.shop_samples, agent_samples, 0, 0)
                shop_rep = self.shop_samples.rep.extend
                shop_first = self.shop_samples.first.append
            lo = wlo[j]
            hi = wlo[j + 1]
            h = human[j]
            fate = fate_of(tl, j)
            buyer = buyers[j]
            reason = excluded.get(buyer) if excluded else None
            # Shop clocks: usually every wait starts in one window, one run (clocks module).
            i = one_run(cal, c1, us[hi - 1] if hi - lo > 1 else c1)
            if i >= 0:
                found: list[Run] = [(i, lo, hi, c1)]
            else:
                found = runs(cal, us, rs, lo, hi, c1, INF, as_of, open_policy)
            if fate == STILL_WAITING and found and reason is None:  # K06: not even waiting
                self.waiting.append((buyer, found[0][3]))
            for i, ka, kb, c in found if want_shop or want_times else ():
                d = durations[ka:kb]
                r = rs[ka]
                d[0] = r - c + 0.0
                if want_shop:
                    if d[0] <= T:
                        code = MET
                    elif as_of - c > T:
                        code = MISSED
                    else:
                        code = PENDING
                    risk = live and code == PENDING and as_of - c > warn
                    # ANY: the first clock over the threshold decides (module docstring).
                    a_code, a_c, a_r, a_risk = code, c, r, risk
                    if code == MET and kb - ka > 1:
                        late = next(filter(over, d), None)
                        if late is not None:
                            k = ka + d.index(late)
                            a_c, a_r = us[k], rs[k]
                            a_code = MISSED if as_of - a_c > T else PENDING
                    if live and kb - ka > 1:
                        a_risk = self._any_at_risk(d, c, ka, kb)
                    group = groups[j]
                    sid = ids[j]
                    key = (i, group, code, risk, a_code, a_risk and a_code == PENDING, reason,
                           fate)
                    shop_counts[key] = shop_counts.get(key, 0) + 1
                    if detail:
                        self._session_unit(j, i, c, r, code, a_code, a_c, a_r, reason)
                    # Fold the session-day into its buyer-day (K03).
                    if i != slot_day:
                        slot_of = fold.setdefault(i, {})
                        slot_day = i
                    p = slot_of.get(buyer)
                    if p is None:
                        slot_of[buyer] = len(f_c)
                        self._slot_buyer.append(buyer)
                        self._slot_day.append(i)
                        f_c.append(c)
                        f_sid.append(sid)
                        f_group.append(group)
                        f_code.append(code)
                        f_end.append(r)
                        f_risk.append(risk)
                        a_code_.append(a_code)
                        a_start.append(a_c)
                        a_end.append(a_r)
                        a_risk_.append(a_risk)
                        f_fate.append(fate)
                        a_fate.append(fate)
                    else:
                        if c < f_c[p] or (c == f_c[p] and sid < f_sid[p]):
                            f_c[p] = c
                            f_sid[p] = sid
                            f_group[p] = group
                            f_code[p] = code
                            f_end[p] = r
                            f_risk[p] = risk
                            f_fate[p] = fate
                        if a_risk:
                            a_risk_[p] = True
                        if a_code > a_code_[p] or (a_code == a_code_[p] and a_c < a_start[p]):
                            a_code_[p] = a_code
                            a_start[p] = a_c
                            a_end[p] = a_r
                            a_fate[p] = fate
                if not want_times:
                    continue
                if reason is not None:
                    dropped += kb - ka  # K06: counted, never timed
                    continue
                if rs[kb - 1] == INF:  # only a session's last wait can be unanswered
                    unanswered += 1
                    d.pop()
                    if not d:
                        continue
                if rs[ka + len(d) - 1] <= closes[i]:  # all answered before closing time
                    shop_rep(d)
                    shop_first(d[0])
                    wins: list[float] | None = None
                else:
                    common, wins = self._split(d, i, c, ka)
                    self.shop_samples.add_run(d, common, wins)
                if s_lo[j] == s_hi[j]:  # no hand-overs: credit the agent named on the reply
                    self._fallback(d, wins, ka)
            if not (want_agents or want_times):
                continue
            for x in range(s_lo[j], s_hi[j]):
                start = st_starts[x]
                end = st_ends[x]
                # The wait under way at the hand-over, or the next one. A reply at the
                # instant a previous stretch ended belongs to that stretch, if the wait
                # began in it (K04).
                k0 = bisect_left(rs, start, lo, hi)
                if x > s_lo[j] and st_ends[x - 1] == start:
                    while k0 < hi and rs[k0] == start and us[k0] < start:
                        k0 += 1
                if k0 == hi:
                    continue
                c = us[k0]
                if c < h:
                    c = h
                if c < start:
                    c = start
                if c >= end:
                    continue
                k1 = bisect_left(us, end, k0 + 1, hi)  # the waits that start before it ends
                i = one_run(cal, c, us[k1 - 1] if k1 - k0 > 1 else c)
                if i >= 0:
                    found = [(i, k0, k1, c)]
                else:
                    found = runs(cal, us, rs, k0, k1, c, end, as_of, open_policy)
                    if not found:
                        continue
                agent = st_agents[x]
                last_r = rs[k1 - 1]  # the last wait's reply: none, or after the stretch?
                capped = last_r > end or last_r == INF
                if want_agents:
                    for i, ka, _kb, c in found:
                        r = INF if capped and ka == k1 - 1 else rs[ka]
                        code = judge(c, r, end, as_of, T)
                        if code == CUT:  # handed on unanswered before the threshold (K04)
                            break
                        risk = live and code == PENDING and as_of - c > warn
                        akey = (i, st_groups[x], agent, code, risk, reason)
                        agent_counts[akey] = agent_counts.get(akey, 0) + 1
                        if detail:
                            self._stretch_unit(j, x, i, c, r, code, reason)
                if not want_times or reason is not None:
                    continue
                samples = agent_samples.get(agent)
                if samples is None:
                    samples = agent_samples[agent] = Samples()
                for i, ka, kb, c in found:
                    d = durations[ka:kb]
                    d[0] = rs[ka] - c + 0.0
                    if capped and kb == k1:
                        d.pop()
                        if not d:
                            continue
                    if rs[ka + len(d) - 1] <= closes[i]:
                        samples.rep.extend(d)
                        samples.first.append(d[0])
                    else:
                        common, wins = self._split(d, i, c, ka)
                        samples.add_run(d, common, wins)
        if opened is not None:
            self._close_split(opened, unanswered, dropped)
        self.unanswered, self.dropped = unanswered, dropped

    def _close_split(self, opened: tuple[int, int, int], unanswered: int,
                     dropped: int) -> None:
        """A split session's counts, from the running ones at its start and end."""
        j, u0, d0 = opened
        if self.split is not None:
            shop, agents, _u, _d = self.split[j]
            self.split[j] = (shop, agents, unanswered - u0, dropped - d0)

    def _any_at_risk(self, d: Sequence[float], c: float, ka: int, kb: int) -> bool:
        """Whether some clock of a run is pending and past the warning age (K07, ANY)."""
        us = self.tl.us
        T = self.opts.threshold
        as_of = self.opts.as_of
        warn = self.opts.warn_after
        for k in range(ka, kb):
            ck = c if k == ka else us[k]
            if d[k - ka] > T and T >= as_of - ck > warn:
                return True
        return False

    def _split(self, d: Sequence[float], i: int, c: float, ka: int) -> tuple[int, list[float]]:
        """How many of a run's samples end by its window's close, and the in-window
        seconds of the rest (K08)."""
        rs = self.tl.rs
        stop = ka + len(d)
        common = bisect_right(rs, self.cal.closes[i], ka, stop) - ka
        us = self.tl.us
        in_window = self.cal.in_window
        wins = [in_window(c if k == ka else us[k], rs[k]) for k in range(ka + common, stop)]
        return common, wins

    def _fallback(self, d: Sequence[float], wins: list[float] | None, ka: int) -> None:
        """Credit each answered clock of a run to the agent named on its reply (K08)."""
        ragent = self.tl.ragent
        common = len(d) if wins is None else len(d) - len(wins)
        for n, cal_s in enumerate(d):
            name = ragent(ka + n)
            if name is not None:
                s = self.agent_samples.get(name)
                if s is None:
                    s = self.agent_samples[name] = Samples()
                win_s = None if wins is None or n < common else wins[n - common]
                s.add_one(cal_s, win_s, n == 0)

    # Tallies and units ------------------------------------------------------------------

    def _tallies(self, shop_counts: dict[ShopKey, int],
                 agent_counts: dict[AgentKey, int]) -> None:
        """Turn the walk's counts into per-basis and per-agent tallies (by day, not index)."""
        days = self.cal.days
        first, anyb = self.session_tallies
        f_fates, a_fates = self.session_fates
        for (i, group, code, risk, a_code, a_risk, reason, fate), n in shop_counts.items():
            if reason is not None:
                code, risk, a_code, a_risk = EXCLUDED_CODE, False, EXCLUDED_CODE, False
            elif fate != REACHED:
                f_fates[fate] = f_fates.get(fate, 0) + n
                a_fates[fate] = a_fates.get(fate, 0) + n
            first.add(days[i], group, None, code, risk, reason, n=n)
            anyb.add(days[i], group, None, a_code, a_risk, reason, n=n)
        if first.units is not None and anyb.units is not None:
            first.units.extend(self._session_units[0])
            anyb.units.extend(self._session_units[1])
        detail = self.opts.detail
        for (i, group, agent, code, risk, reason), n in agent_counts.items():
            tally = self.agent_tallies.get(agent)
            if tally is None:
                tally = self.agent_tallies[agent] = Tally(detail)
                if tally.units is not None:
                    tally.units.extend(self._agent_units[agent])
            if reason is not None:
                code, risk = EXCLUDED_CODE, False
            tally.add(days[i], group, agent, code, risk, reason, n=n)

    def _session_unit(self, j: int, i: int, c: float, r: float, code: int, a_code: int,
                      a_c: float, a_r: float, reason: str | None) -> None:
        """A session-day's units, FIRST and ANY (what :meth:`_unit` makes, without a
        call per unit: a day's detail makes one per session)."""
        tl = self.tl
        day, buyer, sid, group = self.cal.days[i], tl.buyers[j], tl.ids[j], tl.groups[j]
        first = Unit("session-day", STATUSES[EXCLUDED_CODE if reason is not None else code],
                     day, buyer, sid, None, group, c, None if r == INF else r, reason)
        self._session_units[0].append(first)
        # Units are immutable: when both bases decided on the same clock, share one.
        if a_code == code and a_c == c and a_r == r:
            self._session_units[1].append(first)
            return
        self._session_units[1].append(Unit(
            "session-day", STATUSES[EXCLUDED_CODE if reason is not None else a_code], day,
            buyer, sid, None, group, a_c, None if a_r == INF else a_r, reason))

    def _stretch_unit(self, j: int, x: int, i: int, c: float, r: float, code: int,
                      reason: str | None) -> None:
        tl = self.tl
        agent = tl.agents[x]
        units = self._agent_units.get(agent)
        if units is None:
            units = self._agent_units[agent] = []
        units.append(Unit("stretch", STATUSES[EXCLUDED_CODE if reason is not None else code],
                          self.cal.days[i], tl.buyers[j], tl.ids[j], agent, tl.sgroups[x], c,
                          None if r == INF else r, reason))

    def buyer_days(self, first_basis: bool) -> Tally:
        """K03 per buyer-day, FIRST or ANY (both are formed on the first call)."""
        if self._buyer_tallies is None:
            self._buyer_tallies = self._buyer_days()
        return self._buyer_tallies[0 if first_basis else 1]

    def buyer_hours(self, first_basis: bool) -> HourCounts:
        """K03's buyer-days, FIRST or ANY, counted by the hour their first clock started
        (whole hours from the local midnight of the unit's day): keys (hour, tally key)."""
        self.buyer_days(first_basis)
        return self._buyer_hours[0 if first_basis else 1]

    def _buyer_days(self) -> tuple[Tally, Tally]:
        """K03's buyer-day tallies, FIRST and ANY, and their counts by hour and fate. A
        buyer-day's keys depend only on its slot's (hour, day, group, exclusion reason)
        and each basis's (status, risk, fate), so those columns are counted together at
        C speed (one ``zip`` into one ``Counter``) and the keys are made once per
        distinct combination, in the order the combinations first appear (which is the
        order each key first appears in). O(buyer-days) at C speed, plus
        O(distinct combinations) Python steps."""
        detail = self.opts.detail
        first, anyb = Tally(detail), Tally(detail)
        excluded = self.opts.excluded
        buyers = self._slot_buyer
        reasons = list(map(excluded.get, buyers)) if excluded else [None] * len(buyers)
        combos = Counter(zip(self._hours(), self._slot_day, self._f_group, reasons,
                             self._f_code, self._f_risk, self._f_fate,
                             self._a_code, self._a_risk, self._a_fate, strict=True)).items()
        days = self.cal.days
        for tally, by_fate, by_hour, any_basis in (
                (first, self.buyer_fates[0], self._buyer_hours[0], False),
                (anyb, self.buyer_fates[1], self._buyer_hours[1], True)):
            counts = tally.counts
            at = 7 if any_basis else 4
            for combo, n in combos:
                hour, i, group, reason = combo[:4]
                code, risk, fate = combo[at:at + 3]
                key = _buyer_key(days[i], group, code, risk, reason, any_basis)
                counts[key] = counts.get(key, 0) + n
                hour_key = (hour, key)
                by_hour[hour_key] = by_hour.get(hour_key, 0) + n
                if reason is None and fate != REACHED:  # K02: counted units not reached
                    by_fate[fate] = by_fate.get(fate, 0) + n
        if first.units is not None and anyb.units is not None:
            self._buyer_units(first.units, anyb.units)
        return first, anyb

    def _hours(self) -> list[int]:
        """Each buyer-day slot's hour: whole hours from its day's local midnight to its
        first clock (0-23 on a 24-hour day; up to 25 on a 26-hour one). O(buyer-days), at C
        speed."""
        cal = self.cal
        midnights = [local_instant(day, _MIDNIGHT, cal.tz) for day in cal.days]
        starts = np.asarray(self._f_c, dtype=np.float64) - np.take(
            np.asarray(midnights, dtype=np.float64), np.asarray(self._slot_day, dtype=np.intp))
        hours: list[int] = (starts // 3600.0).astype(np.int64).tolist()
        return hours

    def _buyer_units(self, f_units: list[Unit], a_units: list[Unit]) -> None:
        """The buyer-days' units, FIRST and ANY, in slot order (one shared when both bases
        decided on the same clock). O(buyer-days)."""
        excluded = self.opts.excluded
        days = self.cal.days
        for buyer, i, sid, group, f_code, f_c, f_end, a_code, a_c, a_end in zip(
                self._slot_buyer, self._slot_day, self._f_sid, self._f_group, self._f_code,
                self._f_c, self._f_end, self._a_code, self._a_start, self._a_end, strict=True):
            reason = excluded.get(buyer) if excluded else None
            unit = Unit("buyer-day", STATUSES[EXCLUDED_CODE if reason is not None else f_code],
                        days[i], buyer, sid, None, group, f_c, None if f_end == INF else f_end,
                        reason)
            f_units.append(unit)
            if a_code == f_code and a_c == f_c and a_end == f_end:
                a_units.append(unit)
            else:
                a_units.append(Unit(
                    "buyer-day", STATUSES[EXCLUDED_CODE if reason is not None else a_code],
                    days[i], buyer, sid, None, group, a_c, None if a_end == INF else a_end,
                    reason))

    def consults(self) -> list[tuple[str, int, float, str]]:
        """K03's buyer-days as (buyer, day index, first clock, session): K10's consultations."""
        return list(zip(self._slot_buyer, self._slot_day, self._f_c, self._f_sid, strict=True))


def _buyer_key(day: dt.date, group: str | None, code: int, risk: bool, reason: str | None,
               any_basis: bool) -> Key:
    """A buyer-day's tally key (K03): an excluded buyer's by its reason alike on both
    bases; under ANY only a pending unit is at risk (a clock may be at risk while the
    unit is already missed, K07). O(1)."""
    if reason is not None:
        return (day, group, None, EXCLUDED_CODE, False, reason, None)
    return (day, group, None, code, risk and code == PENDING if any_basis else risk, None, None)
