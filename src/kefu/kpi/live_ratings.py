"""Satisfaction kept live (K05, K12): evaluation cards counted as ratings arrive.

The live tracker hands every evaluation record here. Identical records are
dropped; each card (its ``card_id``, or the record alone without one) keeps
all its ratings, and the one that counts is chosen by the same rule as
:func:`kefu.kpi.satisfaction` (:func:`kefu.kpi.ratings.card_winner`). A card
is counted again when a rating of it arrives, when the hand-overs of the
session it was rated in change (they decide which agent is credited) and
when its buyer is excluded (K06): that is, at the tracker's next query, for
the cards marked changed since the one before.

Cost: O(ratings of the card + stretches of its session) to count a card
again; a report O(breakdown keys).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

from kefu.kpi.options import Options
from kefu.kpi.ratings import card_count_key, card_winner, rated_at
from kefu.kpi.records import Evaluation
from kefu.kpi.results import DataQuality, Key, Satisfaction, Tally
from kefu.kpi.timeline import Timeline, fields_of
from kefu.kpi.window import Calendar

__all__ = ["LiveRatings"]

_FIELDS = fields_of(Evaluation)
# A card: ("id", card_id), or ("one", the record's fields) for a card without an id.
CardId = tuple[str, object]
# What a card added to the counts: its session, its buyer, its tally key (None: outside
# the window), ratings it replaced, conflicts among them.
Placed = tuple[str, str, "Key | None", int, int]


class Timed(Protocol):
    """What holds a tracker's latest record time (its feed)."""

    last: float


class LiveRatings:
    """The K05 cards of a live tracker (see the module docstring)."""

    __slots__ = ("_bot", "_by_buyer", "_by_session", "_cards", "_conflicts", "_counts",
                 "_dirty", "_duplicates", "_negative", "_placed", "_replaced", "_seen")

    def __init__(self) -> None:
        self._seen: set[tuple[object, ...]] = set()
        self._duplicates = 0
        self._negative = 0
        self._bot = 0
        self._cards: dict[CardId, list[Evaluation]] = {}
        self._placed: dict[CardId, Placed] = {}
        self._by_session: dict[str, set[CardId]] = {}  # cards counted in each session
        self._by_buyer: dict[str, set[CardId]] = {}
        self._counts: dict[Key, int] = {}
        self._dirty: set[CardId] = set()
        self._replaced = 0  # over the cards placed
        self._conflicts = 0

    def add(self, e: Evaluation, feed: Timed) -> None:
        """File one (checked) evaluation, and move ``feed.last`` up to when it was rated.
        O(1).

        An interrupt (raised as some Python function is entered or returns) leaves it
        filed whole or not at all: what hashes the card (its rating's own code)
        comes first, a card marked changed or made empty before the rating is
        filed is counted as it was, and no Python code runs after the last hash.
        """
        at = rated_at(e)
        fields = _FIELDS(e)
        if fields in self._seen:
            self._duplicates += 1
            feed.last = max(feed.last, at)
            return
        ratings: list[Evaluation] | None = None
        if not e.by_bot:
            card: CardId = ("id", e.card_id) if e.card_id is not None else ("one", fields)
            self._dirty.add(card)
            ratings = self._cards.setdefault(card, [])
        self._seen.add(fields)
        if e.rated_at is not None and e.rated_at < e.sent_at:
            self._negative += 1  # rated before sent: taken as rated when sent
        feed.last = max(feed.last, at)
        if ratings is None:
            self._bot += 1
        else:
            ratings.append(e)

    def journal(self, e: Evaluation) -> tuple[object, ...]:
        """What :meth:`add` of ``e`` may change, noted before it runs (the tracker keeps
        it while filing, so that :meth:`roll_back` can undo an interrupted one). O(1)."""
        fields = _FIELDS(e)
        card: CardId | None = None
        if not e.by_bot:
            card = ("id", e.card_id) if e.card_id is not None else ("one", fields)
        return (fields, fields in self._seen, card, card in self._cards, self._duplicates,
                self._negative, self._bot)

    def roll_back(self, e: Evaluation, noted: tuple[object, ...]) -> None:
        """Undo an :meth:`add` of ``e`` an interrupt cut short (``noted``: :meth:`journal`
        before it). Each step can be done twice; a card marked changed in vain is
        counted as it is. O(1)."""
        fields, seen, card, had_card, duplicates, negative, bot = noted
        if not seen:
            self._seen.discard(cast("tuple[object, ...]", fields))
            ratings = self._cards.get(cast(CardId, card)) if card is not None else None
            if ratings and ratings[-1] is e:
                ratings.pop()
            if card is not None and not had_card and not ratings:
                self._cards.pop(cast(CardId, card), None)
        self._duplicates, self._negative, self._bot = (
            cast(int, duplicates), cast(int, negative), cast(int, bot))

    def count_again(self) -> None:
        """Forget what was counted and mark every card changed (the tracker's books are
        written again after an interrupt). O(cards)."""
        self._placed = {}
        self._by_session = {}
        self._by_buyer = {}
        self._counts = {}
        self._replaced = 0
        self._conflicts = 0
        self._dirty = set(self._cards)

    @property
    def changed(self) -> bool:
        """Whether some card waits to be counted again."""
        return bool(self._dirty)

    def touch_session(self, session_id: str) -> None:
        """The session's hand-overs changed: its cards are counted again."""
        self._dirty.update(self._by_session.get(session_id, ()))

    def touch_buyer(self, buyer_id: str) -> None:
        """The buyer's exclusion changed: their cards are counted again."""
        self._dirty.update(self._by_buyer.get(buyer_id, ()))

    def flush(self, timeline_of: Callable[[str], Timeline], opts: Options,
              calendar: Callable[[float], Calendar]) -> None:
        """Count again every card marked changed; ``timeline_of(session)`` gives a
        session's stretches, ``opts`` the exclusions (K06), ``calendar(t)`` a
        calendar covering instant ``t``."""
        dirty, self._dirty = self._dirty, set()
        try:
            for card in dirty:
                self._place(card, timeline_of, opts, calendar)
        except BaseException:  # a time zone's code failed: count them all again next time
            self._dirty |= dirty
            raise

    def _place(self, card: CardId, timeline_of: Callable[[str], Timeline], opts: Options,
               calendar: Callable[[float], Calendar]) -> None:
        """Count one card again. What may raise (the calendar: a time zone's code) runs
        before anything changes, so a card is either counted again or as it was. A card
        with no rating filed (an interrupt cut its filing short) counts nothing."""
        ratings = self._cards.get(card)
        if not ratings:
            self._unplace(card)
            return
        e, replaced, conflicts = card_winner(ratings)
        key = card_count_key(e, timeline_of(e.session_id), opts, calendar(e.sent_at))
        self._unplace(card)
        self._replaced += replaced
        self._conflicts += conflicts
        self._placed[card] = (e.session_id, e.buyer_id, key, replaced, conflicts)
        self._by_session.setdefault(e.session_id, set()).add(card)
        self._by_buyer.setdefault(e.buyer_id, set()).add(card)
        if key is not None:
            self._counts[key] = self._counts.get(key, 0) + 1

    def _unplace(self, card: CardId) -> None:
        placed = self._placed.pop(card, None)
        if placed is None:
            return
        session, buyer, key, replaced, conflicts = placed
        self._replaced -= replaced
        self._conflicts -= conflicts
        self._by_session[session].discard(card)
        self._by_buyer[buyer].discard(card)
        if key is not None:
            left = self._counts[key] - 1
            if left:
                self._counts[key] = left
            else:
                del self._counts[key]

    def report(self, route_duplicates: int) -> Satisfaction:
        """The good-rating rate with its breakdowns; ``route_duplicates`` counts repeated
        hand-over and release records (the pure function's data quality has them).
        O(breakdown keys)."""
        tally = Tally(False)
        tally.counts = dict(self._counts)
        quality = DataQuality(duplicates=route_duplicates + self._duplicates,
                              conflicts=self._conflicts, negative_durations=self._negative)
        return tally.build(Satisfaction, quality=quality, part=Satisfaction,
                           bot_service=self._bot, replaced=self._replaced)
