"""Interrupting a call at every point: the tests of S05 (an interrupt never corrupts).

A signal handler (Ctrl-C's KeyboardInterrupt, say) can raise between any two
steps of Python code. :func:`interrupt_at` makes that happen at a chosen
point, so a test can walk every point of a call.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from kefu.errors import KefuError

#: The logging package's directory: its frames are left out of every trace.
_LOGGING = os.path.dirname(logging.__file__)


class Interrupted(BaseException):
    """Not an error kefu turns into a KefuError (like KeyboardInterrupt)."""


@contextlib.contextmanager
def tracing(trace: Callable[[FrameType, str, object], Any]) -> Iterator[None]:
    """Run the block under ``sys.settrace(trace)``, with the garbage collector off.

    The collector could otherwise run, inside the block, the finalizers of
    other tests' garbage (an asyncio task that logs "exception was never
    retrieved", say), and an interrupt meant for the call under test would
    land in them instead: one that lands in ``logging.Handler.handle`` right
    after it takes its handler's lock leaves that lock held by this thread
    for good, and the next thread that logs through the handler waits
    forever. (Garbage left pending waits for the next collection after the
    block: collecting it first would cost tens of milliseconds a call, and the
    tests call this thousands of times.) For the same reason the logging
    package's own frames are never traced (a library the call logs through,
    psycopg say, would otherwise expose them).
    """
    def traced(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename.startswith(_LOGGING):
            return None  # not the code under test; its handler locks are not ours
        return trace(frame, event, arg)

    was_enabled = gc.isenabled()
    gc.disable()
    sys.settrace(traced)
    try:
        yield
    finally:
        sys.settrace(None)
        if was_enabled:
            gc.enable()


def interrupt_at(k: int, call: Callable[[], object], when: str = "call") -> bool:
    """Run ``call()``, raising Interrupted as its k-th Python function is entered.

    With ``when="return"``: as its k-th Python function returns (its result
    lost), the point between a call and what its caller does with the result.
    Returns whether the interrupt landed (False: the call finished first). The
    call raises the interrupt itself, or a KefuError if it cut something whose
    failure the callee reports (a write, say).
    """
    entered = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal entered
        if event == when:
            entered += 1
            if entered == k:
                raise Interrupted(f"interrupt at {when} {k}")
        return trace if when == "return" and event == "call" else None

    try:
        with tracing(trace):
            call()
    except Interrupted:
        return True
    except KefuError:
        if entered < k:
            raise
        return True
    return False
