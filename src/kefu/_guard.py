"""The one-writer guard of an Assigner (S02): try to enter, or learn that a call runs.

:func:`new_guard` returns an object with ``enter()`` (True if the guard was
free and is now taken, False if a call holds it) and ``leave()`` (release
it). It never blocks: an overlapping call is an error to report
(``ConcurrentCall``), not something to wait for.

With the compiled engine built and a GIL in the interpreter, the guard is
the compiled ``Guard``: a flag tested and set in one step of C code, two
method calls per Assigner call (about 520 instructions; the compiled hot
calls of ``kefu._facade`` test and set the flag directly). Otherwise it is
:class:`LockGuard`, a real lock taken without blocking, correct on any
interpreter and about three times as costly (some 1,650 instructions).
"""

from __future__ import annotations

import _thread
import sys
from collections.abc import Callable
from functools import partial
from typing import Protocol

from kefu import _compat

__all__ = ["Guard", "LockGuard", "new_guard"]


class Guard(Protocol):
    def enter(self) -> bool: ...

    def leave(self) -> None: ...


class LockGuard:
    """A guard on a plain lock: for interpreters without the compiled engine or a GIL.

    ``enter`` and ``leave`` are the lock's own C methods, not Python functions:
    an exception raised as a Python function is entered or returns (a signal
    handler's ``KeyboardInterrupt``, a trace function's) cannot land between
    taking the lock and the caller learning it did, which would leave the
    Assigner refusing every later call as overlapping.
    """

    __slots__ = ("enter", "leave")

    def __init__(self) -> None:
        lock = _thread.allocate_lock()
        self.enter: Callable[[], bool] = partial(lock.acquire, False)
        self.leave: Callable[[], None] = lock.release


_compiled = _compat.load_compiled("kefu._engine_c", "the compiled engine")
_HAS_GIL: bool = getattr(sys, "_is_gil_enabled", lambda: True)()
_GUARD_CLASS: type[Guard] = (
    getattr(_compiled, "Guard", LockGuard) if _HAS_GIL and _compiled is not None else LockGuard
)


def new_guard() -> Guard:
    """A fresh, free guard. O(1)."""
    return _GUARD_CLASS()
