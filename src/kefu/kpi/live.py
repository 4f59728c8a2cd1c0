"""Live figures (K12): records in one at a time, K03-K09 and K13 figures out at any ``as_of``.

A dashboard or an agent workbench refreshes every few seconds; it cannot
recompute the whole day each time. :class:`LiveTracker` takes the same
records the pure functions take, one at a time and in any order, and
answers :meth:`~LiveTracker.shop` (K03, with K02's waiting figures) and
:meth:`~LiveTracker.agents` (K04), :meth:`~LiveTracker.response_times` (K08),
:meth:`~LiveTracker.satisfaction` (K05) and :meth:`~LiveTracker.service`
(K13) for any ``as_of`` at or after the latest record, equal to the pure
functions (:func:`kefu.kpi.shop_reply_rate` and the rest) over the same
records.

Theory of operation. Each session is measured on its own, by the very code
the pure functions run (:class:`kefu.kpi.measure.Measure` over the
session's records), as if the day were over. That gives every unit with its
clock ``c``, its reply, and its status with no deadline left. Only one kind
of unit depends on ``as_of`` after that: an unanswered one, PENDING while
``as_of - c <= threshold`` and MISSED after (at risk past ``warn_after``);
and, under the OPEN before-window policy, a clock at a window opening later
than ``as_of`` does not exist yet. Every other unit is *fixed*. Fixed units
are added into running counts once; the rest are *volatile* and judged at
query time. A volatile unit becomes fixed for good once the latest record is
more than ``threshold`` past its clock (then every allowed ``as_of`` is too),
so the volatile set holds only the last few minutes' unanswered clocks.

Buyer-days (K03 per buyer) fold a buyer's session-days of one local day:
FIRST takes the earliest clock (then the smaller session id), ANY the worst
status (then the earlier deciding clock). A buyer-day all of whose members
are fixed is folded once; one with a volatile member is folded at query time.

Threads. Calls take turns on a lock (the feed's: :mod:`kefu.kpi.live_feed`),
so a feeder and dashboards may share a tracker; a call from inside a call
(a time zone's or a record's own code) raises NestedCall instead of waiting
for itself. An ``add`` cut short by an interrupt (a signal's
KeyboardInterrupt, which can land between any two steps of its filing) is
undone whole at the tracker's next call, so retrying it counts the record
once. A query that fails
part-way (a user's time zone raised: TimezoneFailed) leaves every session
either measured again in full or still marked changed, so nothing is lost.

Cost. :meth:`~LiveTracker.add` only checks and files a record (O(1); a
message or an agent event (hand-over, release, switch, end) in C when the
compiled feed is built, :mod:`kefu.kpi.live_feed`) and
marks its session changed. The next query measures each changed session
once, O(records of the session), in walks of a few dozen sessions each
(``_WALK``: what a walk makes dies young, so a backfill's catch-up does not
set off the garbage collector's full passes; sessions with ``seq`` numbers
get a walk of their own, so that their out-of-order count stays theirs),
plus O(log v) bookkeeping per unit; the new response times wait, unsorted,
until a query reads them (:class:`~kefu.kpi.multiset.Multiset`): a burst
of records, or a whole day fed at start-up, costs one measure per session,
not one per record (with the compiled modules, a walk's sessions are taken
back and taken, their K13 contacts found and counted and their buyer-days
folded in C, and so is a settling session taken back and placed again; a
session placed before then changes only the counts and K08 values that
differ, most often one new response time:
:mod:`kefu.kpi._live_c`). A query then costs O(volatile units + waiting
sessions + keys of the breakdown): it does not grow with the day's size.
Memory holds the records of each session (the tracker measures from them; a
session's messages in a list) and each message id once (duplicates are
dropped by id, as the pure functions do).
"""

from __future__ import annotations

import _thread
import datetime as dt
import functools
import heapq
import zoneinfo
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import attrs

from kefu._text import short_repr
from kefu.errors import KefuError
from kefu.kpi import kernel
from kefu.kpi.clocks import MET, MISSED, PENDING
from kefu.kpi.errors import InvalidRecord, InvalidTime, NestedCall, TimezoneFailed
from kefu.kpi.hours import hour_table
from kefu.kpi.intake import _PLANS as INTAKE_PLANS
from kefu.kpi.intake import CLEAN_ONE, checked_one
from kefu.kpi.live_feed import (
    KeptMessages,
    compiled_live,
    compiled_place,
    compiled_take,
    new_feed,
    session_class,
    survey,
)
from kefu.kpi.live_measure import (
    LiveMeasure,
    LiveUnit,
    fixed_key,
    measure_class,
    open_until,
    unit_open_until,
)
from kefu.kpi.live_ratings import LiveRatings
from kefu.kpi.live_service import LiveContact, LiveService, kept
from kefu.kpi.measure import NEVER_REACHED, REACHED, STILL_WAITING, Measure, Samples, fate_of
from kefu.kpi.multiset import Multiset
from kefu.kpi.occupancy import AgentLoad, Span, loads_of
from kefu.kpi.options import Options, make_options, seconds
from kefu.kpi.records import (
    AgentStatus,
    Evaluation,
    Exclusion,
    Handover,
    HumanRequest,
    Message,
    Release,
    SessionEnd,
)
from kefu.kpi.results import (
    EXCLUDED_CODE,
    DataQuality,
    Durations,
    Key,
    Rate,
    ResponseStats,
    ResponseTimes,
    Satisfaction,
    ShopReplyRate,
    Tally,
)
from kefu.kpi.service import _ABANDONED, _ANSWERED, _EXCLUDED, _WAITING, ServiceReport, contact_of
from kefu.kpi.service import _Acc as ContactCounts  # what the count adds a key's contacts to
from kefu.kpi.timeline import INF, Timeline, build_timeline, message_key
from kefu.kpi.window import Basis, BeforeWindow, Calendar, Window, local_date, to_posix

__all__ = ["LiveTracker"]

_RECORDS = (Message, Handover, Release, HumanRequest, SessionEnd, Exclusion, Evaluation,
            AgentStatus)

Counts = dict[Key, int]
_NONE: frozenset[Any] = frozenset()  # a session's records of a kind it has none of
_BUCKETS: dict[type, str] = {Handover: "handovers", Release: "releases",
                             HumanRequest: "requests", SessionEnd: "ends"}


# An increment of a running count: (where, its key). ``where`` names the count dict
# without holding it: an index into ``LiveTracker._tables`` (the per-session counts
# and fates by basis, then the per-buyer ones), or an agent id (``_agent_counts``).
# A tuple of such atomic values is one the garbage collector stops tracking.
Bump = tuple[int | str, Any]
# A session's increments, kept flat (where, key, where, key, ...): one object per
# session, and one of atomic values, which the garbage collector stops tracking.
Bumps = tuple[Any, ...]
# Indices into ``LiveTracker._tables``, by basis (FIRST 0, ANY 1).
SESSION_COUNTS, SESSION_FATES, BUYER_COUNTS, BUYER_FATES = 0, 2, 4, 6
DayKey = tuple[str, dt.date]
# A response-time multiset: (agent or None for the shop, "first"/"replies", "cal"/"win").
SampleKey = tuple[str | None, str, str]
# A buyer-day member, atomic values only (so untracked by the garbage collector):
# (visit order, session id, FIRST's clock, group, code and openness, ANY's clock,
# code and openness, fate), a unit's openness being whether it is missed with no
# reply yet (``_judge`` needs no more of it).
Member = tuple[Any, str, float, str | None, int, bool, float, int, bool, int]
Fed = (Message | Handover | Release | HumanRequest | SessionEnd | Exclusion | Evaluation
       | AgentStatus)
_EXACT: dict[type, type[Fed]] = {k: k for k in _RECORDS}
# The agent events' checks (exact class, exact in-range fields: ``checked_one``'s clean
# case), so that :meth:`LiveTracker._add_record` files one with no lookup by kind. Each
# check comes with its class: a look-alike class found by its metaclass's ``__eq__`` is
# not the class, and its records are rebuilt (``checked_one``).
_CLEAN_EVENT: dict[type, tuple[type, Callable[[object], bool]]] = {
    k: (k, CLEAN_ONE[k]) for k in _BUCKETS}
_ROUTES = frozenset((Handover, Release))  # who holds a session (K05's credit)
_SPANS = frozenset((Handover, HumanRequest))  # what K13's calendar spans
_NO_DURATIONS = Durations()
# Sessions measured in one walk of a catch-up. A walk keeps what it found for all of
# its sessions until it has placed them; a few dozen sessions' worth (a few thousand
# objects) dies before it reaches the old generation, whose growth by a quarter
# triggers a full pass of the garbage collector over everything the process holds (a
# backfill's catch-up in one walk paid three such passes a million records). Each
# walk has a fixed cost (its timeline, calendar and contact count: about 300,000
# instructions), so 64 sessions a walk cost 5.5% fewer instructions than 16 did.
_WALK = 64


class _Session:
    """One session's records (deduplicated) and what its last measurement gave: the
    reference, and the class of a tracker's sessions without the compiled modules
    (with them, its compiled twin ``kefu.kpi._live_c.Session``: the same fields, made
    and read in C; :func:`kefu.kpi.live_feed.session_class`)."""

    __slots__ = (
        "agent_units",
        "applied",
        "buyer",
        "contact",
        "days",
        "dropped",
        "ends",
        "fate",
        "handovers",
        "messages",
        "order",
        "quality",
        "releases",
        "requests",
        "samples",
        "sequenced",
        "served",
        "shop_units",
        "stretches",
        "unanswered",
        "unknown",
        "waiting",
        "when",
    )

    def __init__(self) -> None:
        # Its messages in the order they came (their ids are unique: the tracker's
        # ``_kept`` finds the repeats), a list: the cheapest thing to file one in.
        self.messages: list[Message] = []
        # Its other records, once each; a set is made on its kind's first record (most
        # sessions have no release or end: fewer objects for the garbage collector).
        self.handovers: set[Handover] | frozenset[Handover] = _NONE
        self.releases: set[Release] | frozenset[Release] = _NONE
        self.requests: set[HumanRequest] | frozenset[HumanRequest] = _NONE
        self.ends: set[SessionEnd] | frozenset[SessionEnd] = _NONE
        self.buyer: str | None = None
        self.order: tuple[Any, ...] = (INF, "")  # its first message's place in the global order
        # FIRST, ANY per session-day, flat (first, any, first, any, ...): one object.
        # Kept only while a unit is volatile (placing it again needs them): a session
        # all of whose units are fixed holds none, so none of them stays for the
        # garbage collector to visit at every full pass.
        self.shop_units: tuple[LiveUnit, ...] = ()
        self.agent_units: Sequence[LiveUnit] = ()
        self.fate = REACHED
        self.waiting: float | None = None  # clock of its wait for an agent, if waiting
        self.quality: tuple[int, ...] = ()  # its DataQuality, as a tuple
        self.when = INF  # when its volatile units may settle (its live timer)
        # Its buyer-days: a tuple of tuples of atomic values, which the garbage collector
        # stops tracking (a set it would visit at every full pass).
        self.days: tuple[DayKey, ...] = ()
        self.applied: Bumps | None = None  # the fixed counts it added (None: not yet)
        # K08, as if the day were over: values per multiset (the bytes of their doubles:
        # one object, no float object per value), and the agents with response times in
        # it. Tuples of bytes and strings: the garbage collector stops tracking them,
        # where the walk's arrays (12 a session) it would scan at every collection.
        self.samples: tuple[tuple[SampleKey, bytes], ...] = ()
        self.served: tuple[str, ...] = ()
        self.unanswered = 0  # K08's counted waits without a reply, and excluded ones
        self.dropped = 0
        self.contact: LiveContact | None = None  # K13, as if the day were over
        self.sequenced = False  # whether a message has a seq (their order is data quality)
        self.unknown = 0  # its messages from Sender.UNKNOWN
        self.stretches: tuple[tuple[str, float, float], ...] = ()  # (agent, start, end)


def _pairs(flat: tuple[Any, ...]) -> Iterable[tuple[Any, Any]]:
    """The pairs of a flat tuple (increments: count dict, key; a session's units:
    FIRST, ANY), which the tracker keeps flat to give the garbage collector one
    object per session, not one per pair. O(1) to make."""
    it = iter(flat)
    return zip(it, it, strict=True)


def _member(order: tuple[Any, ...], sid: str, f: LiveUnit, a: LiveUnit, fate: int) -> Member:
    """A session-day's buyer-day member (see ``Member``): each unit's clock, status code
    and openness, what judging it needs. O(1)."""
    return (order, sid, f[0], f[4], f[1], f[2], a[0], a[1], a[2], fate)


def _bump(counts: dict[Any, int], key: Any, n: int) -> None:
    left = counts.get(key, 0) + n
    if left:
        counts[key] = left
    else:
        del counts[key]


class _GuardedZone(dt.tzinfo):
    """A time zone of the user's own class, called through a guard: whatever its code
    raises (but a kefu error, such as a nested call's) becomes TimezoneFailed. The
    tracker keeps state between calls, so it must tell a zone's failure from its
    own; the zones of the standard library (ZoneInfo, timezone) are used as they
    are. The answers are the zone's own, so the figures stay equal to the pure
    functions' with that zone."""

    __slots__ = ("_tz",)

    def __init__(self, tz: dt.tzinfo) -> None:
        self._tz = tz

    def _ask(self, name: str, when: dt.datetime | None) -> Any:
        try:
            return getattr(self._tz, name)(
                None if when is None else when.replace(tzinfo=self._tz))
        except KefuError:
            raise
        except Exception as exc:
            raise TimezoneFailed(self._tz, exc) from exc

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta | None:
        return cast("dt.timedelta | None", self._ask("utcoffset", when))

    def dst(self, when: dt.datetime | None) -> dt.timedelta | None:
        return cast("dt.timedelta | None", self._ask("dst", when))

    def tzname(self, when: dt.datetime | None) -> str | None:
        return cast("str | None", self._ask("tzname", when))

    def fromutc(self, when: dt.datetime) -> dt.datetime:
        local = self._ask("fromutc", when)
        if not isinstance(local, dt.datetime):
            raise TimezoneFailed(self._tz, TypeError(
                f"fromutc() returned {short_repr(local)}"))
        return local.replace(tzinfo=self)

    def __repr__(self) -> str:
        return short_repr(self._tz)


_get_ident = _thread.get_ident
P = ParamSpec("P")
T = TypeVar("T")


def _serialised(query: Callable[Concatenate[LiveTracker, P], T]
                ) -> Callable[Concatenate[LiveTracker, P], T]:
    """Run a query as one call on the tracker: refuse a call made from inside a call
    (NestedCall), wait for another thread's call to end. The turn is taken in a
    ``with`` statement on the feed's lock (:class:`kefu.kpi.live_feed.Feed`), not
    by a call and a ``try``: an exception landing as the call that took it
    returned (a signal's KeyboardInterrupt) would leave the turn taken for good."""
    name = query.__name__

    @functools.wraps(query)
    def call(self: LiveTracker, /, *args: P.args, **kwargs: P.kwargs) -> T:
        feed = self._feed
        me = _get_ident()
        if feed.owner == me:
            raise NestedCall(name)
        plain = self._plain_turn
        inside = False  # the turn taken (the block begun)
        failed: BaseException | None = None  # what the block raised, if anything
        try:
            with feed.turn:
                inside = True
                feed.owner = me
                try:
                    result = query(self, *args, **kwargs)
                except KefuError as error:
                    failed = error
                    raise
                except BaseException as error:
                    failed = error
                    self._torn = True  # an interrupt (its books may be half written)
                    raise
                finally:
                    feed.owner = None
        except MemoryError as error:
            if not inside or error is failed or plain is None:
                raise
            plain.release()  # the lock's exit had no memory (kefu.kpi.live_feed.Feed)
        if failed is not None:  # only here when the exit failed: end as the block did
            raise failed
        return result

    return call


class LiveTracker:
    """Live reply rates (K03, K04), satisfaction (K05), response times (K08) and service
    figures (K13) over records fed one at a time (see the module docstring).

    The parameters mean what they mean in :func:`kefu.kpi.shop_reply_rate`
    (and ``answer_within``, ``short_abandon`` in
    :func:`kefu.kpi.service_figures`); they are fixed for the tracker's
    life, and every day the records touch counts (as with ``day=None``).
    Feed :class:`~kefu.kpi.Message`, :class:`~kefu.kpi.Handover`,
    :class:`~kefu.kpi.Release`, :class:`~kefu.kpi.HumanRequest`,
    :class:`~kefu.kpi.SessionEnd`, :class:`~kefu.kpi.Exclusion`,
    :class:`~kefu.kpi.Evaluation` and :class:`~kefu.kpi.AgentStatus` records
    with :meth:`add`, in any order; an exclusion applies retroactively (K06).
    """

    def __init__(self, *, tz: str | dt.tzinfo = "Asia/Shanghai", window: Window | None = None,
                 threshold: float = 180.0, warn_after: float = 100.0,
                 before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
                 answer_within: float | None = None, short_abandon: float = 5.0) -> None:
        # Its sessions: compiled with the compiled feed and placing (live_feed), else
        # ``_Session``; the feed takes turns between threads and files new messages.
        self._new_session = session_class(_Session)
        self._feed = new_feed(self._new_session, self._add_record)
        # The reference feed's turn is a plain lock, which a query releases itself
        # when its ``with`` could not (no memory for the exit's arguments).
        turn = self._feed.turn
        self._plain_turn = turn if type(turn) is _thread.LockType else None
        # Its ``add`` is this tracker's (one C call per record when it is compiled),
        # unless a subclass has an ``add`` of its own.
        if type(self).add is LiveTracker.add:
            self.add = self._feed.add  # type: ignore[method-assign]
        # Placing a measured session (:meth:`_apply`): in C alongside the compiled feed.
        self._place = compiled_place()
        # The K13 breakdown keys' counts (:class:`LiveService`): in C with the placing.
        self._counts_cls = compiled_live("Counts") if self._place is not None else None
        # Keeping what a walk found for a session (:meth:`_take`): in C with the placing.
        take = compiled_take(self._place is not None)
        self._take_c = None if take is None else functools.partial(take, self)
        # Taking a walk's sessions in one pass (:meth:`_measure_batch`): in C with them.
        self._take_all_c = compiled_live("take_all") if self._take_c is not None else None
        # Taking a placed session back (:meth:`_retract`), and the settling's taking back
        # and placing again (:meth:`_settle`): in C with the placing.
        retract = compiled_live("retract") if self._place is not None else None
        self._retract_c = None if retract is None else functools.partial(retract, self)
        self._settle_c = compiled_live("settle") if self._place is not None else None
        # The walk: its unit hooks compiled with the compiled kernel (live_measure).
        self._measure_cls = measure_class()
        # The K08 multisets' class: made on first need in C with the placing (the
        # reference's own figures: ``_live_c.LazyMultiset``).
        self._multiset: Callable[[], Multiset] = (
            compiled_live("LazyMultiset") if self._place is not None else None) or Multiset
        # Local-hour tables of the calendars' spans (:meth:`_contacts_of`).
        self._hour_tables: dict[tuple[float, float], Any] = {}
        # Folding the buyer-days a flush changed (:meth:`_refold` of each): in C with them.
        self._refold_c = compiled_live("refold") if self._place is not None else None
        self._untrack_messages = compiled_live("untrack_messages")
        fold = compiled_live("fold") if self._place is not None else None
        self._fold_c = None if fold is None else functools.partial(fold, self)
        self._opts = make_options(tz=tz, window=window, threshold=threshold,
                                  warn_after=warn_after, before_window=before_window,
                                  detail=True)
        if type(self._opts.tz) not in (zoneinfo.ZoneInfo, dt.timezone):
            self._opts = attrs.evolve(self._opts, tz=_GuardedZone(self._opts.tz))
        self._service_args = (
            self._opts.threshold if answer_within is None else seconds(
                "answer_within", answer_within),
            seconds("short_abandon", short_abandon, zero_ok=True))
        # What was fed (the records, kept once each, and what filing them counted).
        self._ratings = LiveRatings()  # K05: its cards, and what it counted of them
        # K13's occupancy: status records by agent, and the latest instant of the records
        # the pure function's calendar spans.
        self._statuses: dict[str, set[AgentStatus]] = {}
        self._status_repeats = 0
        self._span_hi = -INF  # over hand-overs, switches and status records
        self._route_repeats = 0  # repeated hand-overs and releases (K05's data quality)
        self._sessions: dict[str, _Session] = self._feed.sessions
        # Message id -> the copy that counts (the compiled feed's: a dict's twin in C).
        self._kept: KeptMessages = self._feed.kept
        self._copies: dict[str, list[Message]] = {}  # ids seen more than once: every copy
        self._excluded: dict[str, str] = {}
        self._repeats = 0
        self._conflicts = 0
        self._dirty: set[str] = self._feed.dirty  # sessions changed since last measured
        self._calendars: dict[tuple[float, float], Calendar] = {}
        # Whether an interrupt cut a call short: what was measured is then measured again,
        # in full, at the next query (:meth:`_measure_again`).
        self._torn = False
        self._fresh_books()
        self._file_events_in_c()

    def _file_events_in_c(self) -> None:
        """Have the compiled feed file agent events (hand-overs, releases, switches, ends)
        as :meth:`_add_other` does, in C like messages (a few thousand instructions
        less a record than this Python code), unless a subclass files them its own
        way. The reference feed leaves them to :meth:`_add_other`. O(1)."""
        file_events = getattr(self._feed, "file_events", None)
        if file_events is None or type(self)._add_other is not LiveTracker._add_other:
            return
        file_events(self, {cls: (kind, INTAKE_PLANS[cls], cls in _ROUTES, cls in _SPANS)
                           for cls, kind in _BUCKETS.items()})

    def _fresh_books(self) -> None:
        """Empty books: everything the tracker measured and placed, none of what was fed.
        O(1)."""
        self._service = LiveService(*self._service_args, self._counts_cls)
        self._later: dict[str, LiveContact] = {}  # K13 contacts whose clock is still to come
        # K13 contacts of sessions taken back in this flush and still counted: a session
        # placed again with the same contact leaves the counts as they are (most of a
        # dashboard's refreshes), the rest are counted out at the flush's end.
        self._out: dict[str, LiveContact] = {}
        self._held_by: dict[str, set[str]] = {}  # K13: the sessions each agent held
        self._by_buyer: dict[str, set[str]] = {}
        # Fixed units, counted once: per session-day (FIRST, ANY) with K02 fates, per
        # agent, per buyer-day (FIRST, ANY) with fates.
        self._session_counts: tuple[Counts, Counts] = ({}, {})
        self._session_fates: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._agent_counts: dict[str, Counts] = {}
        self._agent_built: dict[str, Rate] = {}  # rates built at a query, until they change
        self._agents_changed: set[str] = set()
        self._buyer_counts: tuple[Counts, Counts] = ({}, {})
        self._buyer_fates: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # The count dicts a Bump names by index (SESSION_COUNTS + basis and the rest).
        self._tables: tuple[dict[Any, int], ...] = (
            *self._session_counts, *self._session_fates, *self._buyer_counts,
            *self._buyer_fates)
        # Volatile units, judged at query time: by session, (FIRST, ANY, fate) session-day
        # units and agent units; buyer-days with a volatile member.
        self._volatile: dict[str, tuple[list[tuple[LiveUnit, LiveUnit, int]],
                                        list[LiveUnit]]] = {}
        self._members: dict[DayKey, dict[str, Member]] = {}
        self._folded: dict[DayKey, Bumps] = {}  # fixed buyer-days and their counts
        self._volatile_days: set[DayKey] = set()
        self._waiting: dict[str, tuple[str, float]] = {}  # session -> (buyer, clock)
        self._quality = [0] * len(attrs.fields(DataQuality))  # the sessions' qualities summed
        self._timers: list[tuple[float, str]] = []  # (when a session may settle, its id)
        # K08: samples of sessions without a clock still to come, and their counts.
        self._samples: dict[SampleKey, Multiset] = {}
        self._served: dict[str, int] = {}  # agent -> sessions listing them
        self._unanswered = 0
        self._dropped = 0
        self._future: set[str] = set()  # sessions with a clock still to come: K08 at query
        self._unfolded: set[DayKey] = set()  # buyer-days to fold again at the flush's end
        # K08 values added and taken back, uncommitted (arrays: a session's bytes copied in).
        self._delta: dict[SampleKey, tuple[array[float], array[float]]] = {}
        # K08 figures built at a query, by agent (None: the shop), until their samples change.
        self._times_built: dict[str | None, ResponseTimes] = {}
        # An owner's four K08 multiset keys, made once and shared by its sessions (the
        # compiled keeping: ``_live_c.take``). The tracker's own: none outlives it.
        self._sample_keys: dict[str | None, tuple[SampleKey, ...]] = {}

    def _measure_again(self) -> None:
        """After an interrupt cut a call short (``_torn``): forget everything measured and
        mark every session and card changed, so the next flush measures the day again
        from its records, which filing keeps whole (it changes them in steps no
        Python code runs between). O(sessions + cards); idempotent, so an interrupt
        here too is taken care of by the next query."""
        for s in self._sessions.values():
            s.applied, s.buyer, s.stretches, s.days = None, None, (), ()
            s.shop_units = s.agent_units = ()
            s.when = INF
        self._fresh_books()
        self._ratings.count_again()
        self._dirty.update(self._sessions)
        self._torn = False

    # Feeding -------------------------------------------------------------------------

    @property
    def last(self) -> float:
        """The latest record's time (``-inf`` before any): a query needs ``as_of >= last``."""
        if self._feed.undo is not None:  # an interrupted filing: undone first
            return self._last_undone()
        return float(self._feed.last)

    @_serialised
    def _last_undone(self) -> float:
        if self._feed.undo is not None:
            self._roll_back()
        return float(self._feed.last)

    def add(self, record: object) -> None:
        """Take one record. InvalidRecord for anything but a valid record of a fed kind,
        and nothing changes then.

        Cost: O(1); the session is measured again at the next query (module docstring).
        A message, the common record, takes a short path (:mod:`kefu.kpi.live_feed`):
        its fields checked in one pass, its copy filed by id, its session marked
        changed; compiled, when the compiled KPI kernel is.
        """
        self._feed.add(record)

    def extend(self, records: Iterable[object]) -> None:
        """:meth:`add` each record in turn: those before a refused one stay added. Each
        is a call of its own, so queries from other threads are answered while the
        iterable waits (a live stream) and its own code may query the tracker."""
        add = self.add
        for r in records:
            add(r)

    def _add_record(self, record: object) -> None:
        """:meth:`add` for what the feed does not file itself (it holds the turn): a
        message to check or rebuild, or whose id was seen, or another kind, or any
        record after an interrupted filing (undone first: :meth:`_roll_back`)."""
        if self._feed.undo is not None:
            self._roll_back()
        cls = type(record)
        if cls is Message:
            self._add_message(checked_one(record, Message))
            return
        found = _CLEAN_EVENT.get(cls)
        if found is not None and found[0] is cls and found[1](record):  # as checked_one passes it
            self._add_other(cast("Handover | Release | HumanRequest | SessionEnd", record))
        else:
            self._add_other_kind(record)

    def _add_other_kind(self, record: object) -> None:
        """:meth:`add` for anything but an exact Message: check it, file it by kind."""
        cls = _EXACT.get(type(record)) or next(
            (k for k in _RECORDS if isinstance(record, k)), None)
        if cls is None:
            raise InvalidRecord(f"LiveTracker takes Message, Handover, Release, HumanRequest,"
                                f" SessionEnd, Exclusion, Evaluation or AgentStatus records,"
                                f" got {short_repr(record)}")
        rec: Fed = checked_one(record, cls)  # of exactly the class ``cls``
        # Each kind is filed so that an interrupt (a KeyboardInterrupt, raised as some
        # Python function is entered or returns) leaves it filed whole or not at all:
        # what may run Python code (hashing a record, a helper) comes first, and what
        # only marks something changed before the record is filed may happen in vain.
        if cls is Message:
            self._add_message(cast(Message, rec))
        elif cls is Exclusion:
            self._exclude(cast(Exclusion, rec))
        elif cls is Evaluation:
            self._rate(cast(Evaluation, rec))
        elif cls is AgentStatus:
            self._add_status(cast(AgentStatus, rec))
        else:
            self._add_other(cast("Handover | Release | HumanRequest | SessionEnd", rec))

    def _session(self, sid: str) -> _Session:
        s = self._sessions.get(sid)
        if s is None:
            s = self._sessions[sid] = self._new_session()
        return s

    def _add_other(self, rec: Handover | Release | HumanRequest | SessionEnd) -> None:
        """File a hand-over, release, switch or end once, and mark its session changed.
        What may run Python code before anything changes (its hash) comes first; the
        rest is journaled (:meth:`_journal`): an interrupt part-way is undone."""
        sid = rec.session_id
        cls = type(rec)  # a checked record is of exactly its class
        kind = _BUCKETS[cls]
        s = self._sessions.get(sid)
        present = s is not None and rec in getattr(s, kind)
        self._journal(rec, ("other", sid, s is None, kind, present))
        if s is None:
            s = self._sessions[sid] = self._new_session()
        routes = cls in _ROUTES
        if routes:
            self._ratings.touch_session(sid)  # who is credited may change (K05)
        feed = self._feed
        at = rec.at
        if at > feed.last:
            feed.last = at
        if present:
            self._repeats += 1  # an identical record: a duplicate (data quality)
            if routes:
                self._route_repeats += 1
        else:
            bucket: set[Any] = getattr(s, kind)
            if not bucket:
                bucket = set()
                setattr(s, kind, bucket)
            bucket.add(rec)
            if cls in _SPANS:
                self._span_hi = max(self._span_hi, rec.at)
            self._dirty.add(sid)
        feed.undo = None

    def _add_message(self, m: Message) -> None:
        """Keep one copy per message id, the smallest in the global order (as the pure
        functions do), and mark the sessions whose messages changed. A repeated id
        is worked out first; what it changes is journaled (:meth:`_journal`)."""
        mid, sid = m.message_id, m.session_id
        kept = self._kept.get(mid)
        feed = self._feed
        if kept is None:
            self._journal(m, ("message", sid, sid not in self._sessions, mid, None, None, 0))
            feed.file(m)
            feed.undo = None
            return
        old_copies = self._copies.get(mid)
        old = old_copies or [kept]
        copies = [*old, m]
        conflicts = _conflicts_of(copies) - _conflicts_of(old)
        best = min(copies, key=message_key)
        if message_key(best) == message_key(kept):
            self._journal(m, ("message", sid, False, mid, kept, old_copies, 0))
            self._copies[mid] = copies
            self._repeats += 1
            self._conflicts += conflicts
            feed.last = max(feed.last, m.at)
            feed.undo = None
            return
        # Rare: a conflicting copy moved the message (to another time or session).
        moved = self._sessions[kept.session_id].messages
        where = next(k for k, x in enumerate(moved) if x is kept)  # O(its messages)
        hi = feed.message_hi
        if kept.at == hi and best.at < kept.at:
            hi = max([x.at for x in self._kept.values() if x is not kept] + [best.at])
        self._journal(m, ("message", sid, sid not in self._sessions, mid, kept, old_copies,
                          where))
        target = self._session(sid).messages
        self._copies[mid] = copies
        self._repeats += 1
        self._conflicts += conflicts
        feed.last = max(feed.last, m.at)
        self._kept[mid] = best
        del moved[where]
        target.append(best)
        feed.message_hi = max(hi, best.at)
        self._dirty.update((kept.session_id, best.session_id))
        feed.undo = None

    def _add_status(self, r: AgentStatus) -> None:
        """An agent went on or off line (K13's occupancy): filed once, like the others,
        and journaled (:meth:`_journal`)."""
        agent = r.agent_id
        mine = self._statuses.get(agent)
        present = mine is not None and r in mine  # one hash of it (its class's own code)
        self._journal(r, ("status", agent, mine is None, present))
        if present:
            self._status_repeats += 1
        else:
            if mine is None:
                self._statuses[agent] = {r}
            else:
                mine.add(r)
            self._span_hi = max(self._span_hi, r.at)
            self._feed.last = max(self._feed.last, r.at)
        self._feed.undo = None

    def _exclude(self, e: Exclusion) -> None:
        """K06, retroactively: the buyer's sessions are measured again. A buyer excluded
        for several reasons gets the first by name, as ``excluded_buyers`` does."""
        reason = self._excluded.get(e.buyer_id)
        if reason is not None and reason <= e.reason:
            return
        self._journal(e, ("exclude", e.buyer_id, reason))
        self._ratings.touch_buyer(e.buyer_id)
        self._excluded[e.buyer_id] = e.reason
        self._dirty.update(self._by_buyer.get(e.buyer_id, ()))
        self._feed.undo = None

    def _rate(self, e: Evaluation) -> None:
        """File an evaluation (K05), journaled (:meth:`_journal`)."""
        self._journal(e, ("rating", self._ratings.journal(e)))
        self._ratings.add(e, self._feed)
        self._feed.undo = None

    # Interrupted filing --------------------------------------------------------------

    def _journal(self, rec: Fed, state: tuple[Any, ...]) -> None:
        """Note, before a record's filing changes anything, what it may change: the
        feed's times, the tracker's bounds and counts, and ``state`` (what
        :meth:`_roll_back` needs of its kind). The filing clears it as its last step.
        A signal's KeyboardInterrupt can land between any two bytecodes of the
        filing (after the record is stored and before its session is marked
        changed, say); the journal left behind makes the next call undo the filing
        whole, so a retry of the ``add`` is not counted as a duplicate of a record
        half filed. O(1): one tuple of what is already at hand."""
        feed = self._feed
        feed.undo = (rec, feed.last, feed.message_hi, (
            self._span_hi, self._repeats, self._route_repeats, self._status_repeats,
            self._conflicts), state)

    def _roll_back(self) -> None:
        """Undo the filing an interrupt cut short (the feed's ``undo``: :meth:`_journal`,
        or the reference feed's own for a new message): the record out of where it
        went, the times and counts as they were. Every step can be done twice, so
        an interrupt here too is undone by the next call. Marks of sessions or cards
        changed are left: they are measured again, as they were. O(1), or O(the
        session's messages) for a message."""
        feed = self._feed
        rec, last, message_hi, books, state = feed.undo
        tag = state[0]
        if tag == "message":
            self._unfile_message(cast(Message, rec), *state[1:])
        elif tag == "other":
            self._unfile_other(rec, *state[1:])
        elif tag == "status":
            _tag, agent, new, present = state
            mine = self._statuses.get(agent)
            if not present and mine is not None:
                mine.discard(rec)
                if new and not mine:
                    del self._statuses[agent]
        elif tag == "exclude":
            _tag, buyer, reason = state
            if reason is None:
                self._excluded.pop(buyer, None)
            else:
                self._excluded[buyer] = reason
        else:
            self._ratings.roll_back(cast(Evaluation, rec), state[1])
        feed.last, feed.message_hi = last, message_hi
        if books is not None:
            (self._span_hi, self._repeats, self._route_repeats, self._status_repeats,
             self._conflicts) = books
        feed.undo = None

    def _unfile_message(self, m: Message, sid: str, new: bool, mid: str,
                        kept: Message | None, copies: list[Message] | None,
                        where: int) -> None:
        """:meth:`_roll_back` for a message: the copy kept before (``kept``; None: the id
        was new) back in its session's messages at ``where``."""
        now = self._kept.get(mid)
        if now is not None and now is not kept:
            _remove(self._sessions[now.session_id].messages, now)
        if kept is None:
            self._kept.pop(mid, None)
        else:
            # Looked for even when ``kept`` is the copy kept again: an undo cut short
            # after putting it back in ``_kept`` may not have put it back in its list.
            self._kept[mid] = kept
            ms = self._sessions[kept.session_id].messages
            if not any(x is kept for x in ms):
                ms.insert(where, kept)
        if copies is None:
            self._copies.pop(mid, None)
        else:
            self._copies[mid] = copies
        self._drop_if_new(sid, new)

    def _unfile_other(self, rec: Any, sid: str, new: bool, kind: str, present: bool) -> None:
        """:meth:`_roll_back` for a hand-over, release, switch or end."""
        s = self._sessions.get(sid)
        bucket = getattr(s, kind, None)
        if not present and isinstance(bucket, set):
            bucket.discard(rec)
        self._drop_if_new(sid, new)

    def _drop_if_new(self, sid: str, new: bool) -> None:
        """Forget a session the undone filing made (``new``), if it holds no record."""
        s = self._sessions.get(sid)
        if new and s is not None and not (s.messages or s.handovers or s.releases
                                          or s.requests or s.ends):
            self._dirty.discard(sid)
            del self._sessions[sid]

    # Measuring and placing one session -----------------------------------------------

    def _flush(self) -> None:
        """Measure every session changed since the last query, once, then settle the
        sessions whose volatile units became fixed as time went on. Each query starts
        with it, so a burst of records costs one measure per session it touched."""
        if self._torn:
            self._measure_again()
        dirty = self._feed.take_dirty()
        try:
            self._measure_all(dirty)
        except BaseException:
            # A time zone's code failed (or a nested call was refused) part-way: every
            # session measured is fully placed, and the rest are measured again, with
            # the sessions already done, at the next query. Nothing is lost.
            self._dirty |= dirty
            raise

    def _measure_all(self, dirty: set[str]) -> None:
        """:meth:`_flush`'s work: measure, settle, fold, commit."""
        opts: Options | None = None  # the tracker's with its exclusions, made for a walk
        for sids, sessions in self._walks(dirty):
            if opts is None:
                opts = attrs.evolve(self._opts, excluded=dict(self._excluded))
            self._measure_batch(sids, sessions, opts)
        self._settle()
        if self._refold_c is not None:
            self._refold_c(self)
        else:
            for day in self._unfolded:  # each buyer-day once, whatever its sessions did
                self._refold(day)
            self._unfolded = set()
        self._commit_samples()
        self._count_out()
        self._service.commit()
        if self._ratings.changed:
            self._ratings.flush(self._stretches,
                                attrs.evolve(self._opts, excluded=dict(self._excluded)),
                                lambda t: self._calendar(t, t))

    def _stretches(self, sid: str) -> Timeline:
        """A session's hand-overs and releases as a timeline (who held it when: K05)."""
        s = self._sessions.get(sid)
        if s is None:
            return build_timeline((), threshold=self._opts.threshold)
        return build_timeline((), s.handovers, s.releases, threshold=self._opts.threshold)

    def _measure(self, sid: str) -> None:
        """Measure a session from its records, as if the day were over, and place its units."""
        s = self._sessions[sid]
        tl, m = self._walk(s, self._opts)  # first: it may raise (a time zone's code)
        (self._retract_c or self._retract)(sid, s)
        shop_units, agent_units = m.by_session.get(sid, ([], []))
        (self._take_c or self._take)(sid, s, tl, 0 if tl.ids else -1, m, shop_units,
                   agent_units, m.waiting[0][1] if m.waiting else None,
                   (m.shop_samples, m.agent_samples, m.unanswered, m.dropped),
                   attrs.astuple(tl.quality))

    def _walks(self, dirty: set[str]) -> Iterator[tuple[list[str], list[_Session]]]:
        """The sessions of ``dirty``, in id order, surveyed one by one and handed out
        in walks of up to ``_WALK`` (ids, sessions), each as soon as it is full: it
        is walked while its messages, which the survey has just read, are still in
        the cache. A session whose messages have a ``seq`` is measured here, alone
        (its messages' order, a data quality figure, needs a walk of its own)."""
        sids: list[str] = []
        sessions: list[_Session] = []
        feed_survey = self._feed.survey
        for sid in sorted(dirty):
            s = self._sessions[sid]
            s.order, s.sequenced, s.unknown = feed_survey(s.messages) or survey(s.messages)
            if s.sequenced:
                self._measure(sid)
                continue
            sids.append(sid)
            sessions.append(s)
            if len(sids) == _WALK:
                yield sids, sessions
                sids, sessions = [], []
        if sids:
            yield sids, sessions

    def _measure_batch(self, sids: list[str], sessions: list[_Session],
                       opts: Options) -> None:
        """Measure many sessions in one walk (what a burst or a backfill costs), each as
        :meth:`_measure` would. Only sessions whose share of the data quality is
        known may come here: their unknown senders (counted by :func:`~kefu.kpi.live_feed.survey`)
        and the waits their switch dropped (the timeline says whose), but no
        ``seq`` (out-of-order messages are counted over the whole walk). ``opts``: the
        tracker's, with its exclusions (K06); ``sessions``: those of ``sids``."""
        messages: list[Message] = []
        for s in sessions:  # a list's extend per session, not bytecode per message
            messages += s.messages
        if self._untrack_messages is not None:
            self._untrack_messages(messages)
        tl = build_timeline(messages,
                            [h for s in sessions for h in s.handovers],
                            [r for s in sessions for r in s.releases],
                            [q for s in sessions for q in s.requests],
                            ends=[e for s in sessions for e in s.ends],
                            threshold=self._opts.threshold)
        m = self._measure_cls(tl, opts, self._calendar(tl.first, tl.last), split=True)
        found = self._contacts_of(tl, m) if self._take_all_c is not None else None
        if self._take_all_c is not None:  # takes each session back first, as below
            self._take_all_c(self, sids, sessions, tl, m, found)
            return
        retract = self._retract_c or self._retract
        for sid, s in zip(sids, sessions, strict=True):  # after what may raise
            if s.applied is not None:  # placed before (else nothing to take back)
                retract(sid, s)
        split = m.split if m.split is not None else {}
        no_samples: tuple[Samples, dict[str, Samples], int, int] = (Samples(), {}, 0, 0)
        take = self._take_c or self._take
        for sid, s in zip(sids, sessions, strict=True):
            j = tl.index.get(sid, -1)  # -1: no record of it counts yet (an end alone)
            units, agent_units = m.by_session.get(sid, ([], []))
            waiting = None
            if (j >= 0 and fate_of(tl, j) == STILL_WAITING and units
                    and tl.buyers[j] not in self._excluded):
                waiting = units[0][0]
            take(sid, s, tl, j, m, units, agent_units, waiting,
                 split.get(j, no_samples),
                 (0, 0, s.unknown, 0, tl.negatives.get(j, 0) if j >= 0 else 0))

    def _contacts_of(self, tl: Timeline, m: Measure
                     ) -> list[tuple[str, str, LiveContact]] | None:
        """Every K13 contact of a walk's sessions from the compiled contact count (one
        pass in C, its detail one row per contact; no exclusion applied: the
        compiled taking gives each its reason), or None when it cannot count this
        walk (each session's contact is then found by ``contact_of``). What
        ``contact_of`` gives session by session, in a few microseconds each, the
        count gives the whole walk, its local hours from a table kept per calendar
        (:func:`kefu.kpi.hours.hour_table`). O(sessions + stretches)."""
        cal, tz = m.cal, m.opts.tz
        if not cal.opens:
            return None
        span = (min(cal.opens), max(cal.closes))
        table = self._hour_tables.get(span, False)
        if table is False:
            table = self._hour_tables[span] = hour_table(tz, *span)
        found: list[tuple[str, str, LiveContact]] = []
        totals = (compiled_live("Totals") or ContactCounts)()  # every key's: never read
        counted = kernel.compiled("contacts")(
            tl, attrs.evolve(m.opts, excluded={}), cal, 0.0, 0.0, repeat(totals).__next__,
            lambda c: dt.datetime.fromtimestamp(c, tz).hour, found,
            compiled_live("contact_row"),
            (_ANSWERED, _ABANDONED, _WAITING, _EXCLUDED), table)  # the codes contact_of gives
        return None if counted is None else found

    def _take(self, sid: str, s: _Session, tl: Timeline, j: int, m: Measure,
              shop_units: list[LiveUnit], agent_units: list[LiveUnit],
              waiting: float | None,
              samples: tuple[Samples, dict[str, Samples], int, int],
              quality: tuple[int, ...]) -> None:
        """Keep what a walk found for session ``sid`` (``j`` in ``tl``, -1: not in it) and
        place it. O(units + samples + stretches of the session); in C when the placing
        is (``_take_c``)."""
        buyer = tl.buyers[j] if j >= 0 else None
        if buyer != s.buyer:
            if s.buyer is not None:
                self._by_buyer[s.buyer].discard(sid)
            if buyer is not None:
                self._by_buyer.setdefault(buyer, set()).add(sid)
            s.buyer = buyer
        if len(shop_units) % 2:
            raise ValueError(f"a session's shop units come in pairs, got {len(shop_units)}")
        s.shop_units = tuple(shop_units)
        s.agent_units = agent_units
        s.fate = fate_of(tl, j) if j >= 0 else REACHED
        s.waiting = waiting
        shop_samples, agent_samples, s.unanswered, s.dropped = samples
        s.samples, s.served = _samples_of(shop_samples, agent_samples)
        found = contact_of(tl, j, m.opts, m.cal) if j >= 0 else None
        if found is None:
            s.contact = None
        else:
            i, hour, c, code, wait, agent, moved, reason = found
            s.contact = (m.cal.days[i], hour, tl.groups[j], agent, code, wait, moved, reason, c)
        lo, hi = (tl.s_lo[j], tl.s_hi[j]) if j >= 0 else (0, 0)
        stretches = tuple(zip(tl.agents[lo:hi], tl.starts[lo:hi], tl.ends[lo:hi],
                              strict=True))
        if stretches != s.stretches:
            for agent in {x[0] for x in s.stretches}:
                self._held_by[agent].discard(sid)
            for agent in {x[0] for x in stretches}:
                self._held_by.setdefault(agent, set()).add(sid)
            s.stretches = stretches
        s.quality = quality
        self._apply(sid, s)

    def _walk(self, s: _Session, opts: Options, *, shop: bool = True,
              agents: bool = True) -> tuple[Timeline, LiveMeasure]:
        """A session's timeline and the pure walk over it under ``opts``, its buyer's
        exclusion (K06) applied."""
        tl = build_timeline(list(s.messages), s.handovers, s.releases, s.requests,
                            ends=s.ends, threshold=opts.threshold)
        buyer = tl.buyers[0] if tl.ids else None
        if buyer is not None and buyer in self._excluded:
            opts = attrs.evolve(opts, excluded={buyer: self._excluded[buyer]})
        return tl, self._measure_cls(tl, opts, self._calendar(tl.first, tl.last), shop=shop,
                               agents=agents)

    def _apply(self, sid: str, s: _Session) -> None:
        """Count a session's fixed units, register its volatile ones, refold its buyer-days.
        O(units + samples of the session); in C when the feed is (``_place``)."""
        if self._place is not None:
            self._place(self, sid, s)
            return
        last, threshold, fate = self._feed.last, self._opts.threshold, s.fate
        applied: list[Any] = []  # flat: count dict, key, ... (Bumps)
        vol_shop: list[tuple[LiveUnit, LiveUnit, int]] = []
        vol_agents: list[LiveUnit] = []
        when = INF
        future = False  # a clock still to come (OPEN policy)
        for f, a in _pairs(s.shop_units):
            f_open = unit_open_until(f, last, threshold)
            a_open = unit_open_until(a, last, threshold)
            if f_open != INF or a_open != INF:
                vol_shop.append((f, a, fate))
                when = min(when, f_open, a_open)
                future = future or f[0] > last or a[0] > last
                continue
            for basis, u in enumerate((f, a)):
                key = fixed_key(u)
                applied += (SESSION_COUNTS + basis, key)
                if key[3] != EXCLUDED_CODE and fate != REACHED:
                    applied += (SESSION_FATES + basis, fate)
        for u in s.agent_units:
            u_open = unit_open_until(u, last, threshold)
            if u_open != INF:
                vol_agents.append(u)
                when = min(when, u_open)
                future = future or u[0] > last
                continue
            agent = u[5]
            if agent is not None:
                self._agent_counts.setdefault(agent, {})
                applied += (agent, fixed_key(u))
                self._agents_changed.add(agent)
        s.applied = tuple(applied)
        self._bump_all(s.applied, 1)
        if future:
            self._future.add(sid)  # its K08 figures depend on as_of: measured at query
        else:
            self._add_samples(s, 1)
        if s.contact is not None:
            if s.contact[8] > self._feed.last:  # a clock at a window opening still to come
                self._later[sid] = s.contact
                when = min(when, s.contact[8])
            else:
                self._count_in(sid, s.contact)
        if vol_shop or vol_agents:
            self._volatile[sid] = (vol_shop, vol_agents)
        s.when = when
        if when != INF:
            heapq.heappush(self._timers, (when, sid))
        if s.waiting is not None and s.buyer is not None:
            self._waiting[sid] = (s.buyer, s.waiting)
        if any(s.quality):
            for n, x in enumerate(s.quality):
                self._quality[n] += x
        days: dict[DayKey, None] = {}
        for f, a in _pairs(s.shop_units):
            day = (f[7], f[3])
            days[day] = None
            self._members.setdefault(day, {})[sid] = _member(s.order, sid, f, a, s.fate)
        s.days = tuple(days)
        self._unfolded.update(days)
        if when == INF:  # nothing left to place again but by a new measure
            s.shop_units = s.agent_units = ()

    def _count_in(self, sid: str, contact: LiveContact) -> None:
        """Count a placed session's K13 contact, unless it is the one it had when it was
        taken back in this flush (``_out``: still counted). O(1)."""
        old = self._out.pop(sid, None)
        if old == contact:
            return
        if old is not None:
            self._service.count(old, -1)
        self._service.count(contact, 1)

    def _count_out(self) -> None:
        """Count out the contacts taken back in this flush and not placed again as they
        were. O(those contacts)."""
        out, self._out = self._out, {}
        for contact in out.values():
            self._service.count(contact, -1)

    def _bump_all(self, flat: Bumps, n: int) -> None:
        """Add ``n`` to each count a flat tuple of Bumps names. O(its length)."""
        tables, agents = self._tables, self._agent_counts
        for where, key in _pairs(flat):
            _bump(tables[where] if type(where) is int else agents[where], key, n)

    def _retract(self, sid: str, s: _Session) -> None:
        """Undo :meth:`_apply` (before measuring or settling the session again): the
        reference, and the tracker's own without the compiled placing (with it,
        ``kefu.kpi._live_c.retract``, the same books changed in the same order, and
        taken back in C by the walk's taking and the settling). O(units + samples +
        buyer-days of the session)."""
        if s.applied is None:
            return
        self._bump_all(s.applied, -1)
        # The agents of its units: the fixed ones' counts name them, the volatile ones'
        # units are still held.
        self._agents_changed.update(where for where in s.applied[::2] if type(where) is str)
        self._agents_changed.update(u[5] for u in s.agent_units if u[5] is not None)
        s.applied = None
        if sid in self._future:
            self._future.discard(sid)
        else:
            self._add_samples(s, -1)
        if s.contact is not None and self._later.pop(sid, None) is None:
            self._out[sid] = s.contact  # counted out at the flush's end unless placed again
        self._volatile.pop(sid, None)
        self._waiting.pop(sid, None)
        for n, x in enumerate(s.quality):
            self._quality[n] -= x
        for day in s.days:
            members = self._members[day]
            del members[sid]
            if not members:
                del self._members[day]
        self._unfolded.update(s.days)
        s.days = ()

    def _add_samples(self, s: _Session, n: int) -> None:
        """Add (``n`` = 1) or take back (-1) a session's K08 samples and counts; the
        samples wait in ``_delta`` until :meth:`_commit_samples`."""
        side = 0 if n > 0 else 1
        deltas = self._delta
        for key, values in s.samples:
            delta = deltas.get(key)
            if delta is None:
                delta = deltas[key] = (array("d"), array("d"))
            delta[side].frombytes(values)
        for agent in s.served:
            _bump(self._served, agent, n)
        self._unanswered += n * s.unanswered
        self._dropped += n * s.dropped

    def _commit_samples(self) -> None:
        """Apply the samples added and taken back since the last commit: a value taken
        back and added again (a session measured again, unchanged) cancels out, and
        the rest go into the multisets in bulk; an owner's figures are built again
        only if their values changed."""
        for key, (adds, removes) in self._delta.items():
            ms = self._samples.get(key)
            if ms is None:
                ms = self._samples[key] = self._multiset()
            if ms.change(adds, removes):
                self._times_built.pop(key[0], None)
        self._delta = {}

    def _settle(self) -> None:
        """Place again the sessions whose volatile units may have become fixed. Each is
        placed once per call, so a rounding-early timer cannot loop."""
        due: set[str] = set()
        # Strictly before: a unit exactly at its threshold is still volatile, and its
        # timer would fire again at every query until a later record came.
        while self._timers and self._timers[0][0] < self._feed.last:
            when, sid = heapq.heappop(self._timers)
            if self._sessions[sid].when == when:  # else a timer of an older placing
                due.add(sid)
        if self._settle_c is not None:
            self._settle_c(self, sorted(due))
            return
        for sid in sorted(due):
            s = self._sessions[sid]
            self._retract(sid, s)
            self._apply(sid, s)

    # Judging -------------------------------------------------------------------------

    def _judge(self, start: float, code: int, unended: bool, as_of: float
               ) -> tuple[int, bool] | None:
        """A unit's status code and at-risk flag at ``as_of`` (None: no unit yet), from its
        clock, status code and openness (``_where``). O(1)."""
        if start > as_of:
            return None
        if not unended:
            return code, False
        age = as_of - start
        if age > self._opts.threshold:
            return MISSED, False
        return PENDING, as_of != INF and age > self._opts.warn_after

    def _key(self, u: LiveUnit, as_of: float) -> Key | None:
        judged = self._judge(u[0], u[1], u[2], as_of)
        if judged is None:
            return None
        return (u[3], u[4], u[5], judged[0], judged[1], u[6], None)

    def _fold(self, day: DayKey, as_of: float) -> list[Bump]:
        """A buyer-day's FIRST and ANY units (and K02 fates) at ``as_of``, as bumps."""
        members = sorted(m for m in self._members[day].values() if m[2] <= as_of)
        if not members:
            return []
        buyer, date = day
        reason = self._excluded.get(buyer)
        # FIRST: the earliest clock, then the smaller session id.
        win = min(members, key=lambda m: (m[2], m[1]))
        group = win[3]
        if reason is not None:
            key: Key = (date, group, None, EXCLUDED_CODE, False, reason, None)
            return [(BUYER_COUNTS, key), (BUYER_COUNTS + 1, key)]
        f_code, f_risk = self._judge(win[2], win[4], win[5], as_of) or (MET, False)
        # ANY: the worst status, then the earlier deciding clock; members in visit order.
        a_code, a_c, a_fate = -1, INF, REACHED
        a_risk = False
        for m in members:
            start = m[6]
            code, risk = self._judge(start, m[7], m[8], as_of) or (MET, False)
            a_risk = a_risk or risk
            if code > a_code or (code == a_code and start < a_c):
                a_code, a_c, a_fate = code, start, m[9]
        bumps: list[Bump] = [
            (BUYER_COUNTS, (date, group, None, f_code, f_risk, None, None)),
            (BUYER_COUNTS + 1, (date, group, None, a_code, a_risk and a_code == PENDING,
                                None, None)),
        ]
        if win[9] != REACHED:
            bumps.append((BUYER_FATES, win[9]))
        if a_fate != REACHED:
            bumps.append((BUYER_FATES + 1, a_fate))
        return bumps

    def _refold(self, day: DayKey) -> None:
        """Count a buyer-day again: once if all its members are fixed, else at query time."""
        self._bump_all(self._folded.pop(day, ()), -1)
        self._volatile_days.discard(day)
        members = self._members.get(day)
        if not members:
            return
        last, threshold = self._feed.last, self._opts.threshold
        if any(open_until(m[2], m[5], last, threshold) != INF
               or open_until(m[6], m[8], last, threshold) != INF for m in members.values()):
            self._volatile_days.add(day)
            return
        self._folded[day] = folded = tuple(chain.from_iterable(self._fold(day, last)))
        self._bump_all(folded, 1)

    # Queries -------------------------------------------------------------------------

    def _as_of(self, as_of: float | dt.datetime | None) -> float:
        """``as_of`` checked, as a POSIX time; brings the figures up to date first."""
        if self._feed.undo is not None:
            self._roll_back()
        if as_of is None:
            t = INF
        else:
            t = to_posix(as_of, "as_of")
            if t < self._feed.last:
                raise InvalidTime(f"as_of must be at or after the latest record"
                                  f" ({self.last}), got {short_repr(as_of)}")
        self._flush()
        return t

    def _calendar(self, first: float, last: float) -> Calendar:
        """The calendar a session's measure needs, shared by sessions of the same days."""
        opts = self._opts
        if first > last:
            return opts.calendar(first, last)
        span = (local_date(first, opts.tz).toordinal(), local_date(last, opts.tz).toordinal())
        cal = self._calendars.get(span)
        if cal is None:
            cal = self._calendars[span] = opts.calendar(first, last)
        return cal

    def _data_quality(self) -> DataQuality:
        return DataQuality(*self._quality) + DataQuality(duplicates=self._repeats,
                                                         conflicts=self._conflicts)

    @_serialised
    def shop(self, as_of: float | dt.datetime | None = None, *,
             basis: Basis | str = Basis.FIRST) -> ShopReplyRate:
        """The shop's reply rate (K03) at ``as_of`` (None: the day is over), equal to
        :func:`kefu.kpi.shop_reply_rate` over the same records with ``day=None``.

        InvalidTime for an ``as_of`` before the latest record. Cost: O(volatile
        units + waiting sessions + breakdown keys).
        """
        b = 0 if Basis.coerce(basis) is Basis.FIRST else 1
        a = self._as_of(as_of)
        per_session = Tally(False)
        per_session.counts = dict(self._session_counts[b])
        s_fates = dict(self._session_fates[b])
        for shop_units, _agents in self._volatile.values():
            for f, any_unit, fate in shop_units:
                key = self._key(any_unit if b else f, a)
                if key is None:
                    continue
                _bump(per_session.counts, key, 1)
                if key[3] != EXCLUDED_CODE and fate != REACHED:
                    _bump(s_fates, fate, 1)
        per_buyer = Tally(False)
        per_buyer.counts = dict(self._buyer_counts[b])
        b_fates = dict(self._buyer_fates[b])
        fold = self._fold_c or self._fold
        for day in self._volatile_days:
            for where, key in fold(day, a):
                if where == BUYER_COUNTS + b:
                    _bump(per_buyer.counts, key, 1)
                elif where == BUYER_FATES + b:
                    _bump(b_fates, key, 1)
        waiting = [(buyer, c) for buyer, c in self._waiting.values() if c <= a]
        oldest = min((c for _b, c in waiting), default=INF)
        quality = self._data_quality()
        return per_buyer.build(
            ShopReplyRate, quality=quality, agents=False, basis=("first", "any")[b],
            per_session=per_session.build(Rate, quality=quality, agents=False),
            waiting=len({buyer for buyer, _c in waiting}), waiting_sessions=len(waiting),
            longest_wait=None if oldest == INF or a == INF else a - oldest,
            still_waiting=b_fates.get(STILL_WAITING, 0),
            never_reached=b_fates.get(NEVER_REACHED, 0),
            still_waiting_sessions=s_fates.get(STILL_WAITING, 0),
            never_reached_sessions=s_fates.get(NEVER_REACHED, 0),
        )

    @_serialised
    def response_times(self, as_of: float | dt.datetime | None = None) -> ResponseTimes:
        """First and every human response time (K08) at ``as_of``, shop-wide and per agent,
        equal to :func:`kefu.kpi.response_times` over the same records with ``day=None``.

        Cost: O(agents) lookups, plus O(samples / block size) for the medians
        and 90th percentiles of each agent whose samples changed since the last
        query (the samples the catch-ups since then measured put in first:
        O(log n) each), plus a measure of each session whose clock is still to come
        (under the OPEN before-window policy only).
        """
        a = self._as_of(as_of)
        later: list[_Session] = []
        for sid in sorted(self._future):  # their samples as of ``a``, for this query only
            _tl, m = self._walk(self._sessions[sid],  # may raise: nothing added yet
                                attrs.evolve(self._opts, as_of=a, detail=False),
                                shop=False, agents=False)
            now = _Session()
            now.samples, now.served = _samples_of(m.shop_samples, m.agent_samples)
            now.unanswered, now.dropped = m.unanswered, m.dropped
            later.append(now)
        added: list[_Session] = []
        try:
            for now in later:
                self._add_samples(now, 1)
                added.append(now)
            self._commit_samples()
            by_agent = {agent: self._times_of(agent) for agent in sorted(self._served)}
            shop = self._times_of(None)
            return ResponseTimes(first=shop.first, replies=shop.replies,
                                 by_agent=by_agent, unanswered=self._unanswered,
                                 excluded=self._dropped, quality=self._data_quality())
        finally:
            for now in added:
                self._add_samples(now, -1)
            self._commit_samples()

    def _times_of(self, owner: str | None) -> ResponseTimes:
        """An agent's (``owner``; None: the shop's) response times, built again only
        after their samples changed (:meth:`_commit_samples` says whose), so a steady
        query builds nothing per agent."""
        built = self._times_built.get(owner)
        if built is None:
            first_cal, first_win, replies_cal, replies_win = (
                self._summary(owner, kind, part)
                for kind in ("first", "replies") for part in ("cal", "win"))
            built = self._times_built[owner] = ResponseTimes(
                first=ResponseStats(first_cal, first_win),
                replies=ResponseStats(replies_cal, replies_win))
        return built

    def _summary(self, owner: str | None, kind: str, part: str) -> Durations:
        samples = self._samples.get((owner, kind, part))
        return samples.durations() if samples is not None else _NO_DURATIONS

    @_serialised
    def satisfaction(self, as_of: float | dt.datetime | None = None) -> Satisfaction:
        """The good-rating rate (K05) of the evaluations fed, equal to
        :func:`kefu.kpi.satisfaction` over the same evaluations, hand-overs and
        releases with ``day=None`` (a card is credited to the agent holding its
        session when it was sent). ``as_of`` only has to be at or after the
        latest record (a rating counts from when it is given). O(breakdown keys).
        """
        self._as_of(as_of)
        return self._ratings.report(self._route_repeats)

    @_serialised
    def service(self, as_of: float | dt.datetime | None = None) -> ServiceReport:
        """Service level, speed of answer, abandonment and transfers (K13) at ``as_of``,
        with their breakdowns by day, hour, group and agent, equal to
        :func:`kefu.kpi.service_figures` over the same records with ``day=None``
        and this tracker's ``answer_within`` and ``short_abandon``.

        Cost: O(breakdown keys) lookups, plus O(contacts / block size) for the
        medians and 90th percentiles of each key whose contacts changed since
        the last query (their durations put in first: O(log n) each); it does
        not grow with the records.
        """
        a = self._as_of(as_of)
        quality = self._data_quality() + DataQuality(duplicates=self._status_repeats)
        return self._service.report(quality, (c for c in self._later.values() if c[8] <= a),
                                    self._loads(a))

    def _loads(self, a: float) -> dict[str, AgentLoad]:
        """Each agent with status records: on-line, busy and session-seconds at ``a``, as
        the pure function computes them. O(their status records + stretches)."""
        if not self._statuses:
            return {}
        statuses = [r for mine in self._statuses.values() for r in mine]
        held: dict[str, list[Span]] = {}
        for agent in self._statuses:
            spans = held[agent] = []
            for sid in self._held_by.get(agent, ()):
                s = self._sessions[sid]
                if s.buyer is not None and s.buyer in self._excluded:
                    continue  # K06
                spans += [(start, end) for who, start, end in s.stretches if who == agent]
        first = min(r.at for r in statuses)
        cal = self._opts.calendar(first, max(self._span_hi, self._feed.message_hi))
        return loads_of(statuses, held, a, cal)

    @_serialised
    def agent(self, agent_id: str, as_of: float | dt.datetime | None = None) -> Rate | None:
        """One agent's reply rate (K04) at ``as_of``: their entry of :meth:`agents`, or None
        when they have no unit. Cost: O(volatile units + the agent's breakdown keys), for
        an agent's own workbench."""
        if type(agent_id) is not str:
            raise InvalidRecord(f"agent_id must be a str, got {short_repr(agent_id)}")
        return self._agent_rates(self._as_of(as_of), agent_id).get(agent_id)

    @_serialised
    def agents(self, as_of: float | dt.datetime | None = None) -> Mapping[str, Rate]:
        """Each agent's reply rate (K04) at ``as_of``, equal to
        :func:`kefu.kpi.agent_reply_rates` over the same records with ``day=None``.

        Cost: O(volatile units + agents' breakdown keys).
        """
        return self._agent_rates(self._as_of(as_of), None)

    def _agent_rates(self, a: float, only: str | None) -> dict[str, Rate]:
        """Agents' rates at ``a``: every agent's, or (``only``) one agent's.

        An agent whose fixed counts have not changed since the last query and who
        has no volatile unit gets the rate built then (its data quality brought up
        to date), so a dashboard's refresh rebuilds only the agents something
        happened to. O(agents + volatile units + changed agents' keys)."""
        volatile: dict[str, list[LiveUnit]] = {}
        for _shop, agent_units in self._volatile.values():
            for u in agent_units:
                agent = u[5]
                if agent is not None and (only is None or agent == only):
                    volatile.setdefault(agent, []).append(u)
        for agent in self._agents_changed:
            self._agent_built.pop(agent, None)
        self._agents_changed = set()
        quality = self._data_quality()
        names = set(volatile) | (set(self._agent_counts) if only is None else
                                 {only} & self._agent_counts.keys())
        out: dict[str, Rate] = {}
        for agent in sorted(names):
            built = self._agent_built.get(agent) if agent not in volatile else None
            if built is None:
                counts = dict(self._agent_counts.get(agent, {}))
                for u in volatile.get(agent, ()):
                    key = self._key(u, a)
                    if key is not None:
                        _bump(counts, key, 1)
                if not counts:
                    continue
                tally = Tally(False)
                tally.counts = counts
                built = tally.build(Rate, quality=quality, agents=False)
                if agent not in volatile:
                    built = self._agent_built[agent] = kept(built)
            elif built.quality != quality:
                built = self._agent_built[agent] = attrs.evolve(built, quality=quality)
            out[agent] = built
        return out


def _samples_of(shop: Samples, agents: dict[str, Samples]
                ) -> tuple[tuple[tuple[SampleKey, bytes], ...], tuple[str, ...]]:
    """A walk's K08 samples as values per multiset (the bytes of their doubles), and the
    agents it lists."""
    out: list[tuple[SampleKey, bytes]] = []
    served = tuple(sorted(agents))
    for owner, x in ((None, shop), *((agent, agents[agent]) for agent in served)):
        for kind, common, xc, xw in (("first", x.first, x.first_xc, x.first_xw),
                                     ("replies", x.rep, x.rep_xc, x.rep_xw)):
            if xc:
                out.append(((owner, kind, "cal"), common.tobytes() + xc.tobytes()))
                out.append(((owner, kind, "win"), common.tobytes() + xw.tobytes()))
            elif common:
                values = common.tobytes()  # no wait past a close: the same values
                out.append(((owner, kind, "cal"), values))
                out.append(((owner, kind, "win"), values))
    return tuple(out), served


def _remove(items: list[Any], x: object) -> None:
    """Remove ``x`` (itself, not an equal object) from ``items`` if there, looking from the
    end (where a filing just put it). O(len(items))."""
    for k in range(len(items) - 1, -1, -1):
        if items[k] is x:
            del items[k]
            return


def _conflicts_of(copies: list[Message]) -> int:
    """Copies of one message id that differ from the one kept."""
    best = min(map(message_key, copies))
    return sum(1 for c in copies if message_key(c) != best)
