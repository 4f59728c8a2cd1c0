"""Interrupting a call at every point: the tests of S05 (an interrupt never corrupts).

A signal handler (Ctrl-C's KeyboardInterrupt, say) can raise between any two
steps of Python code. :func:`interrupt_at` makes that happen at a chosen
point, so a test can walk every point of a call.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from kefu.errors import KefuError


class Interrupted(BaseException):
    """Not an error kefu turns into a KefuError (like KeyboardInterrupt)."""


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

    sys.settrace(trace)
    try:
        call()
    except Interrupted:
        return True
    except KefuError:
        if entered < k:
            raise
        return True
    finally:
        sys.settrace(None)
    return False
