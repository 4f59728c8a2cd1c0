"""Host: many durable shops in one asyncio process, one writer each, group commit (S08).

Theory of operation. Everything a shop does runs on the event loop's
thread, so each shop has exactly one writer without a lock: a call runs its
command at once with :meth:`DurableShop.submit` (microseconds; the journal
entry stays pending) and parks its outcome in a :class:`Waiter`. One
flusher task takes the pending entries of every shop that has some
(:meth:`DurableShop.prepare_flush`) and writes them all with one
``store.commit_many`` in a worker thread; meanwhile new calls keep running
in memory and pile up for the next write. When a write returns, its
callers' futures resolve and subscribers receive the events, in each
shop's journal order; if it fails, exactly its callers (and the calls
queued behind them on the same shops) get :class:`~kefu.errors.ShopFailed`
and those shops are closed, then recovered from the store in the background
(or by their next call, if it comes first) so their timers go on.

Nothing a caller sees is ahead of the store: a query's value and a
rejected command's error also wait for the write of every command they
may have observed. A shop's timers are fired through the same path
(:mod:`kefu.host._timers`), and an overdue timer fires before the next
command of its shop, so a command never runs past a due timer; the check
and the command share one clock reading (:mod:`kefu.host._clock`).

Opening a shop (recovery: snapshot + journal replay) and closing it run in
worker threads; two first calls to a shop open it once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from kefu._text import short_repr
from kefu.clock import Clock, ManualClock, SystemClock
from kefu.durable import DurableShop, Recovery, Store
from kefu.durable._commands import COMMANDS
from kefu.errors import HostClosed, InvalidArgument, KefuError, ShopFailed
from kefu.events import Event
from kefu.host._clock import HeldClock
from kefu.host._slot import Slot, Waiter
from kefu.host._subscription import Subscription
from kefu.host._timers import Timers

__all__ = ["QUERIES", "Host"]

#: The read-only methods :meth:`Host.call` accepts (never journaled).
QUERIES = frozenset({"next_deadline", "load", "agent", "agent_ids", "session", "session_ids",
                     "waiting", "position", "estimated_wait", "reception_list", "snapshot",
                     "check"})

ShopOptions = Mapping[str, Any] | Callable[[str], Mapping[str, Any]]

#: The ``DurableShop.open`` options ``shop_options`` may set (the host sets the clock).
_OPTIONS = frozenset({"config", "engine", "snapshot_every", "request_window", "repair"})


class Host:
    """Serves many :class:`~kefu.durable.DurableShop` objects from one asyncio loop.

    ``store`` holds the shops (the host never closes it). ``clock`` is every
    shop's time (default :class:`~kefu.clock.SystemClock`). ``shop_options``
    are :meth:`DurableShop.open`'s options (``config``, ``engine``,
    ``snapshot_every``, ``request_window``, ``repair``) as a mapping, or a
    function of the shop id returning one. ``subscriber_limit`` is how many
    events a subscriber may fall behind before it is disconnected.
    ``sleep`` says whether timers sleep in real time (default: yes, unless
    ``clock`` is a :class:`~kefu.clock.ManualClock`, whose time moves only
    with :meth:`clock_moved`). ``threads`` is the size of the worker pool
    that opens, writes and closes shops.

    Use it as ``async with Host(store) as host:`` or with :meth:`start` and
    :meth:`close`, inside one running event loop.
    """

    def __init__(self, store: Store, *, clock: Clock | None = None,
                 shop_options: ShopOptions | None = None, subscriber_limit: int = 10_000,
                 sleep: bool | None = None, threads: int = 4) -> None:
        for name, value in (("subscriber_limit", subscriber_limit), ("threads", threads)):
            if type(value) is not int or value < 1:
                raise InvalidArgument(f"{name} must be a positive int, got {short_repr(value)}")
        if sleep is not None and type(sleep) is not bool:
            raise InvalidArgument(f"sleep must be True, False or None, got {short_repr(sleep)}")
        if shop_options is not None and not (callable(shop_options)
                                             or isinstance(shop_options, Mapping)):
            raise InvalidArgument(f"shop_options must be a mapping or a function of the shop "
                                  f"id, got {short_repr(shop_options)}")
        if isinstance(shop_options, Mapping):
            _check_options(shop_options)
        self._store = store
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._options = shop_options
        self._subscriber_limit = subscriber_limit
        self._sleep = sleep if sleep is not None else not isinstance(self._clock, ManualClock)
        self._slots: dict[str, Slot] = {}
        self._opening: dict[str, asyncio.Task[Slot]] = {}
        self._reopening: dict[str, asyncio.Task[None]] = {}
        self._releasing: dict[str, asyncio.Future[None]] = {}
        self._subscribers: dict[str, list[Subscription]] = {}
        self._dirty: dict[str, Slot] = {}
        self._active = 0
        self._state = "new"
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="kefu-host")
        self._shop_clock = HeldClock(self._clock)
        self._timers = Timers(self._shop_clock, self._sleep, self._fire)
        self._wake_flusher = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._flusher: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._stopped: str | None = None  # why the flusher ended before close, if it did

    # -- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        """Start the flusher on the running loop. Idempotent; calls start the host too."""
        if self._state != "new":
            if self._state != "running":
                raise HostClosed("the host is closed; create a new Host")
            return
        self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        self._flusher.add_done_callback(self._flusher_ended)
        self._state = "running"

    async def close(self) -> None:
        """Take no new calls, finish the ones in flight, then checkpoint and close every shop.

        Calls made after this starts raise :class:`~kefu.errors.HostClosed`;
        calls already running finish (their commands are made durable).
        Every shop is flushed, snapshotted and released (its writer lock
        freed); every subscriber's iteration ends after its queued events.
        Idempotent; concurrent closes wait for the same shutdown. The first
        error closing a shop is raised after all shops are closed. Cost: one
        snapshot write per shop changed since its last one.
        """
        if self._closing is None:
            if self._state != "running":  # never started: nothing to close
                self._state = "closed"
                self._end_subscribers()
                self._executor.shutdown(wait=False)
                return
            self._state = "closing"
            self._closing = asyncio.get_running_loop().create_task(self._shutdown())
        await asyncio.shield(self._closing)

    async def __aenter__(self) -> Host:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has begun (no new calls are taken)."""
        return self._state in ("closing", "closed")

    def open_shops(self) -> list[str]:
        """The ids of the shops this host holds open now. O(shops)."""
        return list(self._slots)

    # -- calls ----------------------------------------------------------------

    async def call(self, shop_id: str, method: str, *args: Any, request_id: str | None = None,
                   **kwargs: Any) -> Any:
        """Run ``method`` on shop ``shop_id`` and return its result once it is durable.

        ``method`` is a command of :class:`~kefu.Assigner` (``open_session``,
        ``agent_message``, ``tick`` ...; the result is its list of events)
        or a query (``load``, ``waiting``, ``session`` ...; see
        :data:`QUERIES`). The first call to a shop opens (recovers) it.
        Commands of a shop run in arrival order; the result comes back
        only once the command, and every command before it, is in the
        store. ``request_id`` makes a retry safe: a repeated id returns the
        original events and changes nothing.

        Raises the shop's :class:`~kefu.errors.KefuError` for a rejected
        command (to this caller only), :class:`~kefu.errors.ShopFailed` if
        the write failed (the command may or may not be in the store: retry
        it with the same request id), :class:`~kefu.errors.InvalidArgument`
        for an unknown method and :class:`~kefu.errors.HostClosed` once the
        host is closing. Cancelling the caller never undoes a command that
        has run: it is journaled all the same.
        """
        query = _classify(method)
        if query and request_id is not None:
            raise InvalidArgument(f"{method} is a query: it takes no request_id")
        await self._enter()
        try:
            slot = await self._slot(shop_id)
            future = self._run(slot, method, args, kwargs, request_id, query)
            return await future
        finally:
            self._leave()

    async def open(self, shop_id: str) -> Recovery:
        """Open (recover) a shop now, so that its timers run without waiting for a call.

        A host knows a shop only once it is called or opened: after a
        restart, open every shop this process serves. Returns how the shop
        was recovered. Idempotent.
        """
        await self._enter()
        try:
            return (await self._slot(shop_id)).shop.recovery
        finally:
            self._leave()

    def subscribe(self, shop_id: str, *, limit: int | None = None) -> Subscription:
        """A feed of shop ``shop_id``'s events, durable ones only, in order, from now on.

        Use it as ``async for event in host.subscribe(shop)`` or ``async
        with host.subscribe(shop) as events:``. A subscriber that falls
        ``limit`` events behind (default: the host's ``subscriber_limit``)
        is disconnected: its iterator yields what it holds, then raises
        :class:`~kefu.errors.SubscriberLagged`. It does not open the shop.
        """
        _check_shop_id(shop_id)
        if limit is None:
            limit = self._subscriber_limit
        elif type(limit) is not int or limit < 1:
            raise InvalidArgument(f"limit must be a positive int, got {short_repr(limit)}")
        subscription = Subscription(shop_id, limit, self._unsubscribe)
        if self.closed:
            subscription._end()
        else:
            self._subscribers.setdefault(shop_id, []).append(subscription)
        return subscription

    async def clock_moved(self) -> dict[str, list[Event]]:
        """Fire every open shop's due timers now, and return their events once durable.

        Call it after moving a :class:`~kefu.clock.ManualClock` (with
        ``sleep`` off, nothing else fires timers); with a real clock it
        also re-arms every timer, e.g. after the wall clock was stepped.
        Returns ``{shop_id: events}`` for the shops whose timers fired.
        Cost: O(open shops) plus the ticks.
        """
        await self._enter()
        try:
            timers = self._timers
            fired: list[tuple[str, asyncio.Future[Any]]] = []
            now = self._shop_clock.read()
            for slot in list(self._slots.values()):
                if timers.due(slot, now):
                    timers.cancel(slot)
                    future = self._tick(slot)
                    if future is not None:
                        fired.append((slot.shop_id, future))
                else:
                    timers.arm(slot)
            results = await asyncio.gather(*(f for _, f in fired), return_exceptions=True)
            return {sid: r for (sid, _), r in zip(fired, results, strict=True)
                    if isinstance(r, list) and r}
        finally:
            self._leave()

    # -- the command path -----------------------------------------------------

    async def _enter(self) -> None:
        if self._state == "new":
            await self.start()
        if self._state != "running":
            raise HostClosed("the host is closed: it takes no new calls")
        self._usable()
        self._active += 1
        self._idle.clear()

    def _usable(self) -> None:
        """Raise HostClosed once the flusher was cancelled: nothing could be written. O(1)."""
        if self._stopped is not None:
            raise HostClosed(f"the host takes no new calls: {self._stopped}; close it")

    def _leave(self) -> None:
        self._active -= 1
        if self._active == 0:
            self._idle.set()

    async def _slot(self, shop_id: str) -> Slot:
        """The open slot of ``shop_id``, opening the shop first if needed (once).

        The id is checked before any lookup: a str subclass must not find a
        shop by its equality, nor an unhashable or hostile id raise its own error.
        """
        _check_shop_id(shop_id)
        while True:
            slot = self._slots.get(shop_id)
            if slot is not None:
                return slot
            opening = self._opening.get(shop_id)
            if opening is None:
                opening = asyncio.get_running_loop().create_task(self._open_slot(shop_id))
                opening.add_done_callback(_consume)
                self._opening[shop_id] = opening
            slot = await asyncio.shield(opening)
            if not slot.retired:
                return slot
            # dropped (its write failed) before this caller resumed: open it afresh

    async def _open_slot(self, shop_id: str) -> Slot:
        try:
            releasing = self._releasing.get(shop_id)
            if releasing is not None:  # the shop's previous object is still letting go
                await asyncio.wait([releasing])
            options = self._options_for(shop_id)
            loop = asyncio.get_running_loop()
            opening = loop.run_in_executor(
                self._executor, functools.partial(DurableShop.open, self._store, shop_id,
                                                  self._shop_clock, **options))
            cancelled = await _outlast(opening)  # the opening goes on in its thread
            if cancelled or self._stopped is not None:  # or nothing would write the shop:
                if opening.exception() is None:  # let it go then
                    await _outlast(loop.run_in_executor(
                        self._executor, functools.partial(_close_quietly, opening.result())))
                if cancelled:
                    raise asyncio.CancelledError
                self._usable()  # the flusher ended while the shop opened: HostClosed
            shop = opening.result()
        finally:
            del self._opening[shop_id]
        slot = self._slots[shop_id] = Slot(shop_id, shop)
        self._rearm(slot)
        return slot

    def _options_for(self, shop_id: str) -> dict[str, Any]:
        if self._options is None:
            return {}
        if isinstance(self._options, Mapping):
            return dict(self._options)
        options = self._options(shop_id)
        if not isinstance(options, Mapping):
            raise InvalidArgument(f"shop_options({short_repr(shop_id)}) must return a mapping, "
                                  f"got {short_repr(options)}")
        _check_options(options)
        return dict(options)

    def _run(self, slot: Slot, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             request_id: str | None, query: bool) -> asyncio.Future[Any]:
        """Run one call on the shop now; its future resolves once what it saw is durable."""
        self._usable()  # a call that waited for its shop to open while the flusher ended
        clock = self._shop_clock
        if clock.held is not None:  # an overdue tick inside a call: the call's reading
            return self._run_held(slot, method, args, kwargs, request_id, query)
        # One reading for the overdue check and the command (None: the clock failed,
        # and the command reports it).
        clock.held = clock.read()
        try:
            if not query and method != "tick" and self._timers.due(slot, clock.held):
                self._tick(slot)  # an overdue timer fires before the command
            return self._run_held(slot, method, args, kwargs, request_id, query)
        finally:
            clock.held = None

    def _run_held(self, slot: Slot, method: str, args: tuple[Any, ...],
                  kwargs: dict[str, Any], request_id: str | None,
                  query: bool) -> asyncio.Future[Any]:
        shop = slot.shop
        before = shop.seq
        result: Any = None
        error: BaseException | None = None
        try:
            if query:
                result = _query(shop, method, args, kwargs)
            else:
                result = shop.submit(method, *args, request_id=request_id, **kwargs)
        except KefuError as exc:
            error = exc
        except BaseException:
            # Not a rejection: the shop may be half-way through a command. Drop it;
            # the next call recovers it from the store.
            self._retire(slot, None)
            raise
        publish = result if not query and error is None and shop.seq > before else None
        waiter = Waiter(asyncio.get_running_loop().create_future(), result, error, publish)
        if shop.pending:
            slot.pending.append(waiter)
            self._dirty[slot.shop_id] = slot
            self._wake_flusher.set()
        elif slot.inflight is not None:
            slot.inflight.append(waiter)
        else:
            waiter.release()
        if not query:
            self._rearm(slot)
        return waiter.future

    def _tick(self, slot: Slot) -> asyncio.Future[Any] | None:
        """Fire ``slot``'s due timers through the write path; None if the shop was dropped."""
        try:
            future = self._run(slot, "tick", (), {}, None, False)
        except Exception:
            return None
        future.add_done_callback(_consume)
        return future

    def _fire(self, slot: Slot) -> None:
        if not slot.retired and self._state == "running":
            self._tick(slot)

    def _rearm(self, slot: Slot) -> None:
        """Follow the shop's next deadline, earlier or later. O(1)."""
        deadline = slot.shop.next_deadline()
        if deadline != slot.deadline or (deadline is not None and slot.handle is None):
            slot.deadline = deadline
            self._timers.arm(slot)

    # -- group commit ---------------------------------------------------------

    async def _flush_loop(self) -> None:
        """Write every shop's pending entries, one store transaction at a time.

        Cancelled (its loop ending, or a task group or a caller cancelling
        it), it finishes the write in flight and answers its callers (see
        :meth:`_write_once`); the calls queued behind it fail with
        ShopFailed, every shop is released (its writer lock freed, so a loop
        ending without :meth:`close` leaves no shop busy), and the host takes
        no new calls (HostClosed): nothing would write them.
        """
        wake = self._wake_flusher
        try:
            while True:
                if not self._dirty:
                    if self._state == "closing" and self._active == 0:
                        return
                    await wake.wait()
                    wake.clear()
                    continue
                await self._write_once()
        except asyncio.CancelledError:
            self._stop("its flusher task was cancelled")
            if self._releasing:
                await _outlast(asyncio.gather(*self._releasing.values()))
            raise
        except BaseException as exc:  # KeyboardInterrupt or SystemExit on the loop's thread
            # It leaves the loop (asyncio lets it through); a caller that runs the
            # loop on must find no one waiting on a flusher that is gone.
            self._stop(f"its flusher failed: {short_repr(exc)}")
            raise

    def _flusher_ended(self, flusher: asyncio.Task[None]) -> None:
        """Stop the host if the flusher was cancelled before its first step (its
        handler in :meth:`_flush_loop` never ran then), e.g. by a shutdown cancelling
        every task: commands must not run that nothing will write. O(1).

        A flusher that died of an interrupt (KeyboardInterrupt, SystemExit) has
        already raised it out of the loop to the application; its exception is
        marked seen, so the task's collection logs no "exception was never
        retrieved" (which would also run a logging handler in whatever thread
        the garbage collector happens to run in)."""
        if flusher.cancelled():
            if self._stopped is None:
                self._stop("its flusher task was cancelled")
            return
        flusher.exception()

    def _stop(self, why: str) -> None:
        """The flusher is gone: fail what waits for it, release every shop, refuse new calls."""
        self._stopped = why
        self._timers.stop()
        for slot in list(self._dirty.values()) + list(self._slots.values()):
            self._retire(slot, f"the host stopped: {why}")

    async def _write_once(self) -> None:
        batch = []
        commits = []
        dirty, self._dirty = list(self._dirty.values()), {}
        try:
            for slot in dirty:
                try:
                    commit = slot.shop.prepare_flush()
                except Exception as exc:  # never reached by design; must not hang the callers
                    self._retire(slot, f"preparing its write failed: {short_repr(exc)}")
                    self._reopen_soon(slot.shop_id)
                    continue
                if commit is not None:
                    commits.append(commit)
                slot.inflight, slot.pending = slot.pending, []
                batch.append(slot)
        except BaseException as exc:  # an interrupt: nothing of this batch will be written
            self._unprepare(dirty, batch, exc)
            raise
        error: BaseException | None = None
        cancelled = False
        if commits:
            write = asyncio.get_running_loop().run_in_executor(
                self._executor, self._store.commit_many, commits)
            # The write goes on in its thread whatever happens here: on cancellation,
            # wait for it, so its callers hear what it did (written: acknowledged).
            cancelled = await _outlast(write)
            error = write.exception()
        self._answer(batch, error)
        if cancelled:
            raise asyncio.CancelledError

    def _unprepare(self, dirty: list[Slot], batch: list[Slot], error: BaseException) -> None:
        """An interrupt cut the preparing of a write: fail the slots prepared so far,
        as a failed write does, and put the others back among the dirty ones (the
        flusher's end fails them). O(slots)."""
        for slot in dirty:
            if slot not in batch and not slot.retired:
                self._dirty.setdefault(slot.shop_id, slot)
        self._answer(batch, error)

    def _answer(self, batch: list[Slot], error: BaseException | None) -> None:
        """Resolve the callers of a write that returned (``error`` None) or failed. O(waiters)."""
        for slot in batch:
            waiters, slot.inflight = slot.inflight or [], None
            if error is None:
                slot.shop.complete_flush()
                subscribers = self._subscribers.get(slot.shop_id, ())
                for waiter in waiters:
                    if waiter.publish:
                        for subscription in list(subscribers):
                            subscription._push(waiter.publish)
                    waiter.release()
                self._release_if_idle(slot)
            else:
                slot.shop.complete_flush(error)
                for waiter in waiters:
                    waiter.fail(_write_failed(slot.shop_id, error))
                why = f"writing it failed: {short_repr(error)}"
                if slot.retired:  # dropped during the write: what is queued cannot be written
                    self._fail_pending(slot, why)
                    self._release_if_idle(slot)
                else:
                    self._retire(slot, why)
                self._reopen_soon(slot.shop_id)

    def _reopen_soon(self, shop_id: str) -> None:
        """Recover a shop dropped by a failed write, so its timers keep firing unasked."""
        if self._state == "running" and shop_id not in self._reopening:
            task = asyncio.get_running_loop().create_task(self._reopen(shop_id))
            self._reopening[shop_id] = task
            task.add_done_callback(lambda _: self._reopening.pop(shop_id, None))

    async def _reopen(self, shop_id: str) -> None:
        """Open ``shop_id`` again, retrying with backoff (0.1 s doubling to 30 s) until it opens.

        Stops when the host closes or the shop is open again (a call may
        have reopened it first).
        """
        delay = 0.1
        while self._state == "running":
            await asyncio.sleep(delay)
            if shop_id in self._slots:
                return
            try:
                await self.open(shop_id)
                return
            except HostClosed:
                return
            except Exception:
                delay = min(delay * 2, 30.0)

    # -- failures and shutdown ------------------------------------------------

    def _retire(self, slot: Slot, why: str | None) -> None:
        """Drop a shop object; the shop's next call opens (recovers) it afresh.

        After a failed write (``why`` says how) the object no longer matches
        the store: the calls queued behind the failed write fail with
        ShopFailed. After a command failed unexpectedly (``why`` None) the
        commands before it are still written and answered. The object's
        writer lock is released once nothing of it waits for a write.
        O(waiters).
        """
        if slot.retired:
            return
        slot.retired = True
        if self._slots.get(slot.shop_id) is slot:
            del self._slots[slot.shop_id]
        self._timers.cancel(slot)
        self._releasing[slot.shop_id] = asyncio.get_running_loop().create_future()
        if why is not None:
            self._fail_pending(slot, why)
        self._release_if_idle(slot)

    def _fail_pending(self, slot: Slot, why: str) -> None:
        if self._dirty.get(slot.shop_id) is slot:
            del self._dirty[slot.shop_id]
        waiters, slot.pending = slot.pending, []
        for waiter in waiters:
            waiter.fail(ShopFailed(f"shop {short_repr(slot.shop_id)} was dropped before this "
                                   f"command was written ({why}); it may or may not have run"))

    def _release_if_idle(self, slot: Slot) -> None:
        """Close a retired shop object in a worker thread once no write concerns it."""
        if (not slot.retired or slot.inflight is not None
                or self._dirty.get(slot.shop_id) is slot):
            return
        released = self._releasing[slot.shop_id]
        closing = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(_close_quietly, slot.shop)))

        def done(_: asyncio.Future[None], shop_id: str = slot.shop_id) -> None:
            if self._releasing.get(shop_id) is released:
                del self._releasing[shop_id]
            released.set_result(None)

        closing.add_done_callback(done)

    async def _shutdown(self) -> None:
        for reopening in list(self._reopening.values()):
            reopening.cancel()
        await self._idle.wait()
        if self._opening:
            await asyncio.wait(list(self._opening.values()))
        self._timers.stop()
        for slot in self._slots.values():
            self._timers.cancel(slot)
        self._wake_flusher.set()
        # Cancelled (the loop ending mid-close), the closing goes on: every shop
        # must still be released, or its writer lock outlives the host.
        cancelled = False
        if self._flusher is not None:  # it may have been cancelled: that is no error
            cancelled = await _outlast(self._flusher)
        if self._releasing:
            cancelled = await _outlast(asyncio.gather(*self._releasing.values())) or cancelled
        loop = asyncio.get_running_loop()
        first_error: BaseException | None = None
        for slot in list(self._slots.values()):
            closing = loop.run_in_executor(self._executor, slot.shop.close)
            cancelled = await _outlast(closing) or cancelled
            error = closing.exception()
            if error is not None and not isinstance(error, Exception):
                raise error
            first_error = first_error or error
        self._slots.clear()
        self._end_subscribers()
        self._executor.shutdown(wait=True)
        self._state = "closed"
        if cancelled:
            raise asyncio.CancelledError
        if first_error is not None:
            raise first_error

    def _end_subscribers(self) -> None:
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription._end()
        self._subscribers.clear()

    def _unsubscribe(self, subscription: Subscription) -> None:
        subscriptions = self._subscribers.get(subscription.shop_id)
        if subscriptions is not None and subscription in subscriptions:
            subscriptions.remove(subscription)
            if not subscriptions:
                del self._subscribers[subscription.shop_id]

    def __repr__(self) -> str:
        return f"<Host {self._state} shops={len(self._slots)} store={self._store!r}>"


def _classify(method: object) -> bool:
    """True for a query, False for a command; InvalidArgument for anything else."""
    if type(method) is str:
        if method in QUERIES:
            return True
        if method in COMMANDS:
            return False
    raise InvalidArgument(f"unknown method {short_repr(method)}: use a command of "
                          f"Assigner or one of the queries {sorted(QUERIES)}")


def _check_shop_id(shop_id: object) -> None:
    if type(shop_id) is not str or not shop_id:
        raise InvalidArgument(f"shop id must be a non-empty str, got {short_repr(shop_id)}")


def _query(shop: DurableShop, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return getattr(shop, method)(*args, **kwargs)
    except TypeError as exc:
        raise InvalidArgument(f"bad arguments for {method}: {exc}") from None


def _check_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(str(k) for k in options if k not in _OPTIONS)
    if unknown:
        raise InvalidArgument(f"unknown shop options {short_repr(unknown)}: use "
                              f"{sorted(_OPTIONS)}")


def _write_failed(shop_id: str, error: BaseException) -> ShopFailed:
    failed = ShopFailed(f"writing shop {short_repr(shop_id)} failed ({short_repr(error)}); the "
                        "command may or may not be in the store: retry it with its request id")
    failed.__cause__ = error
    return failed


def _close_quietly(shop: DurableShop) -> None:
    """Release a dropped shop; a failure to write its last entries changes nothing for callers."""
    try:
        shop.close(checkpoint=False)
    except Exception:  # its callers were told ShopFailed already; the lock is released anyway
        return


async def _outlast(future: asyncio.Future[Any]) -> bool:
    """Wait until ``future`` is done, even through cancellations; whether one came.

    For work in a worker thread, which goes on whatever the loop does: its
    outcome must be handled (answered, or let go) before the task ends.
    """
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a background future's exception as seen (nobody else may await it)."""
    if not future.cancelled():
        future.exception()
