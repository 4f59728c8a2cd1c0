"""The state behind an Assigner, and which code runs its hot calls.

An Assigner's hot calls (``open_session``, ``close_session``,
``buyer_message``, ``agent_message``, ``tick``) and its clock read (``_now``)
exist twice: in Python in :mod:`kefu.assigner`, the reference and what runs
without the compiled engine, and in ``kefu._engine_c``, where one C function
takes the guard, checks the arguments, reads the clock and, on the compiled
engine, does the engine's work without a Python frame in between. Both give
the same events, the same errors with the same messages, and leave the same
time behind.

:class:`FacadeState` holds what those calls read: the clock, the config, the
engine, the one-writer guard and the latest time (C fields when compiled,
slots otherwise). :func:`compile_hot_calls` puts the compiled functions on
the Assigner class in place of the Python ones, under the same names and
docstrings; :data:`REFERENCE` keeps the Python ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kefu import _compat

if TYPE_CHECKING:
    from kefu._contract import Engine
    from kefu._guard import Guard
    from kefu.clock import Clock
    from kefu.model import Config

__all__ = ["COMPILED", "HOT_CALLS", "REFERENCE", "FacadeState", "compile_hot_calls",
           "python_facade"]

#: The methods the compiled facade replaces.
HOT_CALLS = ("open_session", "close_session", "buyer_message", "agent_message", "tick", "_now")

_compiled = _compat.load_compiled("kefu._engine_c", "the compiled engine")
#: Whether the hot calls run compiled in this process.
COMPILED: bool = _compiled is not None and hasattr(_compiled, "FacadeState")
#: The Python hot methods, by name, as :mod:`kefu.assigner` defines them.
REFERENCE: dict[str, Callable[..., Any]] = {}

if TYPE_CHECKING or not COMPILED:
    class FacadeState:
        """An Assigner's fields: clock, config, engine, guard, latest time (slots)."""

        __slots__ = ("_clock", "_config", "_engine", "_guard", "_last_now")

        _clock: Clock
        _config: Config
        _engine: Engine
        _guard: Guard
        _last_now: float
else:
    FacadeState = _compiled.FacadeState


T = TypeVar("T")


def python_facade(cls: type[T]) -> type[T]:
    """A subclass of ``cls`` (the Assigner) whose hot calls and clock read are the Python
    reference methods: the two facades side by side, for tests and benchmarks. O(1)."""
    return type(f"Python{cls.__name__}", (cls,), {"__slots__": (), **REFERENCE})


def compile_hot_calls(cls: type) -> None:
    """Record ``cls``'s Python hot methods in :data:`REFERENCE` and, when the compiled
    facade is built, replace them on ``cls`` by the compiled functions, which take
    the Python ones' name, docstring and signature (``__wrapped__``). O(1)."""
    for name in HOT_CALLS:
        python = cls.__dict__[name]
        REFERENCE[name] = python
        if COMPILED:
            fast = getattr(_compiled, "facade_" + name.lstrip("_"))
            fast.__name__ = python.__name__
            fast.__qualname__ = python.__qualname__
            fast.__module__ = python.__module__
            fast.__doc__ = python.__doc__
            fast.__wrapped__ = python
            setattr(cls, name, fast)
