"""The instruction counts behind the bench's per-call figure (``kefu._callgrind``)."""

from __future__ import annotations

import pytest

from kefu import _callgrind

pytestmark = pytest.mark.skipif(not _callgrind.available(), reason="valgrind not on PATH")


def test_count_inside_a_function_never_entered_raises_rather_than_reading_zero() -> None:
    """A python whose symbols are stripped (a distribution's ``/usr/bin/python3``) never
    enters the function callgrind is told to count in: the count is 0, and a figure of
    0 instructions a call would pass its goal. It must be an error instead."""
    with pytest.raises(RuntimeError, match="no_such_function"):
        _callgrind.count("print('hello')\n", only="no_such_function")
