"""Which kernel runs the KPI calculator's hot loops: compiled when built, else pure Python.

The compiled kernel (``kefu.kpi._kernel_c``, built by setup.py like the
Assigner's engine) and the pure-Python reference give identical results;
tests run the KPI suite on both and compare them directly. ``ACTIVE`` is
the one in use: "c" when the extension imported (and KEFU_NO_EXTENSIONS is
unset), else "py". Tests may set it; nothing else should need to.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable
from types import ModuleType

from kefu import _compat

__all__ = ["ACTIVE", "AVAILABLE", "compiled", "exact_sum", "sorted_doubles"]


_COMPILED: ModuleType | None = _compat.load_compiled("kefu.kpi._kernel_c",
                                                     "the compiled KPI kernel")
#: The kernels this install has.
AVAILABLE: tuple[str, ...] = ("c", "py") if _COMPILED is not None else ("py",)
#: The kernel in use.
ACTIVE: str = AVAILABLE[0]


def compiled(name: str) -> Callable[..., object]:
    """A function of the compiled kernel (only call when ``ACTIVE == "c"``)."""
    if _COMPILED is None:
        raise RuntimeError("the compiled KPI kernel is not built here")
    fn: Callable[..., object] = getattr(_COMPILED, name)
    return fn


def sorted_doubles(values: array[float]) -> array[float]:
    """A sorted copy of ``values`` (no NaN), by the active kernel."""
    if ACTIVE == "c":
        out: array[float] = compiled("sorted_doubles")(values)  # type: ignore[assignment]
        return out
    return array("d", sorted(values))


def exact_sum(values: Iterable[float]) -> float:
    """``math.fsum(values)``: the correctly rounded sum, its very float and errors. An
    exact array('d') is summed by the compiled kernel when active (no float object
    per value: the same algorithm over the doubles). O(n)."""
    if ACTIVE == "c" and type(values) is array and values.typecode == "d":
        out: float = compiled("exact_sum")(values)  # type: ignore[assignment]
        return out
    return math.fsum(values)
