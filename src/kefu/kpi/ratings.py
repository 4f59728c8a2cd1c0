"""Good-rating rate (K05): satisfied / (satisfied + normal + disappointed).

Human-service cards only (bot-service ones are left out and counted), cards
sent inside the window, one rating per card (the latest ``rated_at`` wins),
credited to the agent holding the session when the card was sent.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable
from operator import attrgetter

import numpy as np

from kefu.kpi.clocks import MET, MISSED
from kefu.kpi.intake import checked
from kefu.kpi.options import DayArg, ExclusionsArg, Options, make_options
from kefu.kpi.records import Evaluation, Handover, Rating, Release
from kefu.kpi.results import (
    EXCLUDED_CODE,
    DataQuality,
    Key,
    Satisfaction,
    Tally,
    Unit,
    status_of,
)
from kefu.kpi.timeline import INF, Timeline, build_timeline, dedupe, fields_of
from kefu.kpi.window import Calendar, Window

__all__ = ["card_count_key", "card_winner", "rated_at", "satisfaction", "satisfaction_result"]

# On a tie of rated_at between different ratings of one card, the worse one is
# kept (a conservative, order-independent choice).
_WORSE_FIRST = {Rating.DISAPPOINTED: 0, Rating.NORMAL: 1, Rating.SATISFIED: 2}


def _card_key(e: Evaluation) -> tuple[float, int, str, float, str, str, str, bool, bool,
                                       float]:
    """Orders one card's ratings: the latest wins; ties by worse rating, then every field
    (an agent_id of None against "", a rated_at missing or before sent_at against one at
    sent_at: no two distinct ratings tie, so the input order never decides)."""
    return (rated_at(e), -_WORSE_FIRST[e.rating], e.source.value, e.sent_at, e.session_id,
            e.buyer_id, e.agent_id or "", e.by_bot, e.agent_id is None,
            -1.0 if e.rated_at is None else e.rated_at)


_FIELDS = fields_of(Evaluation)
_SENT_AT = attrgetter("sent_at")


def rated_at(e: Evaluation) -> float:
    """When a rating counts as given: ``rated_at``, or ``sent_at`` when it is missing or
    earlier (a rating before its card: a negative duration, data quality)."""
    return e.rated_at if e.rated_at is not None and e.rated_at >= e.sent_at else e.sent_at


def card_winner(ratings: list[Evaluation]) -> tuple[Evaluation, int, int]:
    """One card's ratings -> the one that counts (the latest; ties: the worse, then every
    field), how many it replaced, and how many of those differ from it at the same
    instant (conflicts). O(ratings)."""
    if len(ratings) == 1:
        return ratings[0], 0, 0
    e = max(ratings, key=_card_key)
    when = _card_key(e)[0]
    conflicts = sum(1 for o in ratings if o is not e and _card_key(o)[0] == when
                    and o.rating is not e.rating)
    return e, len(ratings) - 1, conflicts


def card_count_key(e: Evaluation, tl: Timeline, opts: Options, cal: Calendar) -> Key | None:
    """The tally key of the rating that counts for a card: its day, the group and agent
    holding the session when the card was sent (``tl``'s stretches; else the card's
    own ``agent_id``), satisfied or not, its exclusion (K06). None for a card sent
    outside the window. O(log days + stretches of the session)."""
    t = e.sent_at
    i = bisect_right(cal.opens, t) - 1
    if i < 0 or t >= cal.closes[i] or not cal.counted[i]:
        return None  # card sent outside the window (K05)
    j = tl.index.get(e.session_id, -1)
    x = tl.serving(j, t) if j >= 0 else -1
    agent = tl.agents[x] if x >= 0 else e.agent_id
    group = tl.sgroups[x] if x >= 0 else (tl.groups[j] if j >= 0 else None)
    reason = opts.excluded.get(e.buyer_id) if opts.excluded else None
    if reason is not None:
        return (cal.days[i], group, agent, EXCLUDED_CODE, False, reason, None)
    if e.rating is Rating.SATISFIED:
        return (cal.days[i], group, agent, MET, False, None, None)
    return (cal.days[i], group, agent, MISSED, False, None, e.rating.value)


def _cards(unique: list[Evaluation], as_of: float) -> tuple[list[list[Evaluation]], int, int]:
    """The ratings of each card known at ``as_of`` (a card without an id is a card of its
    own), in the order cards first appear; the bot-service ratings left out, and the
    ratings before their card (negative durations, taken as rated when sent). O(n)."""
    negative = 0
    bot = 0
    cards: dict[object, list[Evaluation]] = {}  # one list of ratings per card
    for e in unique:
        sent = e.sent_at
        rated = e.rated_at
        if rated is None:
            rated = sent
        elif rated < sent:
            negative += 1  # rated before sent: taken as rated when sent
            rated = sent
        if sent > as_of or rated > as_of:
            continue
        if e.by_bot:
            bot += 1
            continue
        card: object = e.card_id
        if card is None:
            card = id(e)
        ratings = cards.get(card)
        if ratings is None:
            cards[card] = [e]
        else:
            ratings.append(e)
    return list(cards.values()), bot, negative


def _count_keys(winners: list[Evaluation], tl: Timeline, opts: Options,
                cal: Calendar) -> list[Key | None]:
    """:func:`card_count_key` of each card's winning rating, with the windows found for
    all of them by one vectorized search (times below 2**32 are exact as doubles) and
    the rest inline: no call per card. O(cards x (stretches of the session) + cards
    log days)."""
    t_all = np.array([e.sent_at for e in winners], dtype=np.float64)
    opens = np.array(cal.opens, dtype=np.float64)
    win = (np.searchsorted(opens, t_all, side="right") - 1).tolist()
    closes, counted, days = cal.closes, cal.counted, cal.days
    index, s_lo, s_hi = tl.index, tl.s_lo, tl.s_hi
    starts, ends, agents, sgroups, groups = tl.starts, tl.ends, tl.agents, tl.sgroups, tl.groups
    excluded = opts.excluded
    satisfied = Rating.SATISFIED
    out: list[Key | None] = []
    for e, i in zip(winners, win, strict=True):
        t = e.sent_at
        if i < 0 or t >= closes[i] or not counted[i]:
            out.append(None)  # card sent outside the window (K05)
            continue
        j = index.get(e.session_id, -1)
        agent, group = e.agent_id, None
        if j >= 0:
            group = groups[j]
            for x in range(s_lo[j], s_hi[j]):  # Timeline.serving
                if starts[x] <= t < ends[x]:
                    agent, group = agents[x], sgroups[x]
                    break
        reason = excluded.get(e.buyer_id) if excluded else None
        if reason is not None:
            out.append((days[i], group, agent, EXCLUDED_CODE, False, reason, None))
        elif e.rating is satisfied:
            out.append((days[i], group, agent, MET, False, None, None))
        else:
            out.append((days[i], group, agent, MISSED, False, None, e.rating.value))
    return out


def satisfaction_result(evaluations: Iterable[Evaluation], tl: Timeline, opts: Options,
                        cal: Calendar) -> Satisfaction:
    """K05 over deduplicated evaluations, crediting agents from ``tl``'s stretches. What
    :func:`card_winner` and :func:`card_count_key` say for each card, a card of one
    rating (the usual) its own winner without a call. O(n log n)."""
    seen = checked(evaluations, Evaluation)
    # identical records once (field tuples of those sharing a sent_at, not attrs' __hash__)
    unique, duplicates = dedupe(seen, INF, _SENT_AT, _FIELDS)
    cards, bot, negative = _cards(unique, opts.as_of)
    replaced = conflicts = 0
    winners: list[Evaluation] = []
    for ratings in cards:
        if len(ratings) == 1:
            winners.append(ratings[0])
            continue
        e, n_replaced, n_conflicts = card_winner(ratings)
        replaced += n_replaced
        conflicts += n_conflicts
        winners.append(e)
    tally = Tally(opts.detail)
    counts = tally.counts
    keys = _count_keys(winners, tl, opts, cal)
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    if tally.units is not None:
        for e, key in zip(winners, keys, strict=True):
            if key is None:
                continue
            day, group, agent, code, _risk, reason, _extra = key
            tally.units.append(Unit("evaluation", status_of(code), day, e.buyer_id,
                                    e.session_id, agent, group, e.sent_at, e.rated_at, reason))
        # Every field decides (two cards of one session may share an instant), so the
        # order never depends on the input's.
        tally.units.sort(key=lambda u: (u.day, u.start, u.buyer_id, u.session_id or "",
                                        u.agent_id or "", u.group or "", u.status.value,
                                        -1.0 if u.end is None else u.end, u.reason or ""))
    quality = tl.quality + DataQuality(duplicates=duplicates, conflicts=conflicts,
                                       negative_durations=negative)
    return tally.build(Satisfaction, quality=quality, part=Satisfaction, bot_service=bot,
                       replaced=replaced)


def satisfaction(
    evaluations: Iterable[Evaluation],
    handovers: Iterable[Handover] = (),
    *,
    releases: Iterable[Release] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    as_of: float | dt.datetime | None = None,
    excluded_buyers: ExclusionsArg = frozenset(),
    detail: bool = False,
) -> Satisfaction:
    """The good-rating rate (K05) with counts per rating, by agent, group and day.

    Without hand-overs a card is credited to its own ``agent_id``. No rating
    in range -> ``rate`` is None.
    """
    opts = make_options(day=day, tz=tz, window=window, as_of=as_of,
                        excluded_buyers=excluded_buyers, detail=detail)
    evs = checked(evaluations, Evaluation)
    tl = build_timeline((), handovers, releases, (), opts.as_of, threshold=opts.threshold)
    first = min((e.sent_at for e in evs), default=INF)
    last = max((e.sent_at for e in evs), default=-INF)
    return satisfaction_result(evs, tl, opts, opts.calendar(first, last))
