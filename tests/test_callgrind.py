"""The instruction counts behind the bench's per-call figure (``kefu._callgrind``)."""

from __future__ import annotations

import pytest

from kefu import _callgrind
from kefu._bench_figures import CALLGRIND_STEPS, Floors, per_call

pytestmark = pytest.mark.skipif(not _callgrind.available(), reason="valgrind not on PATH")


def test_count_inside_a_function_never_entered_raises_rather_than_reading_zero() -> None:
    """A python whose symbols are stripped (a distribution's ``/usr/bin/python3``) never
    enters the function callgrind is told to count in: the count is 0, and a figure of
    0 instructions a call would pass its goal. It must be an error instead."""
    with pytest.raises(RuntimeError, match="no_such_function"):
        _callgrind.count("print('hello')\n", only="no_such_function")


def test_bench_per_call_figure_is_never_zero_instructions_when_callgrind_sees_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where callgrind cannot find the function it counts in (as on a stripped python),
    ``python -m kefu bench`` shows the call's time without a verdict, not a count of 0
    that meets the 4,000-instruction goal."""
    monkeypatch.setattr(_callgrind, "COUNTED", "no_such_function")
    # A real valgrind run, as open_close_per_call makes it, of a program that imports
    # nothing (valgrind takes tens of seconds to import kefu and make a shop).
    monkeypatch.setattr(_callgrind, "open_close_per_call",
                        lambda engine, pairs: _callgrind.count(
                            "pass\n", only=_callgrind.COUNTED) / (2 * pairs))
    figure = per_call(Floors(), "py", CALLGRIND_STEPS)
    assert figure.unit == "ns/call"
    assert figure.goal is None and figure.value > 0
