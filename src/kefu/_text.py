"""Quoting values in error messages: short, and safe on any object.

An error message names the offending value so that a log line alone says
what went wrong, but a caller may pass a 12 MB id, a list nested a million
deep or an object whose ``__repr__`` raises. :func:`short_repr` quotes any of
them in at most about ``limit`` characters, never raises and never recurses
without bound. Cost: O(limit), whatever the value's size.
"""

from __future__ import annotations

import reprlib

__all__ = ["short_repr"]

_LIMIT = 160


class _Repr(reprlib.Repr):
    """reprlib, but an object whose repr fails is shown without its address."""

    def repr_instance(self, x: object, level: int) -> str:
        try:
            text = repr(x)
        except Exception:
            return f"<{type(x).__qualname__} object>"
        if len(text) > self.maxother:
            half = max(0, (self.maxother - 3) // 2)
            text = text[:half] + "..." + text[len(text) - half:]
        return text


def _make_repr(limit: int) -> reprlib.Repr:
    r = _Repr()
    r.maxlevel = 3
    r.maxstring = limit
    r.maxlong = limit
    r.maxother = limit
    for attr in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset",
                 "maxdeque"):
        setattr(r, attr, 8)
    return r


_REPR = _make_repr(_LIMIT)


def short_repr(value: object, limit: int = _LIMIT) -> str:
    """``repr(value)``, cut to about ``limit`` characters; a placeholder if repr fails.

    Exact ``str``/``int``/``float``/``bool``/``None`` values are quoted
    directly; anything else goes through :mod:`reprlib`, whose output is
    bounded in length and depth. A value whose repr raises (or that defeats
    reprlib) is shown as ``<TypeName object>``.
    """
    kind = type(value)
    try:
        if kind is str:
            text = repr(value) if len(value) <= limit else repr(value[:limit]) + "..."  # type: ignore[index, arg-type]
        elif kind is int and value.bit_length() > 4 * limit:  # type: ignore[attr-defined]
            text = f"<int of {value.bit_length()} bits>"  # type: ignore[attr-defined]
        elif kind in (int, float, bool) or value is None:
            text = repr(value)
        else:
            text = (_REPR if limit == _LIMIT else _make_repr(limit)).repr(value)
    except Exception:
        text = ""
    if not text or len(text) > 2 * limit + 16:
        return f"<{kind.__qualname__} object>"
    return text
