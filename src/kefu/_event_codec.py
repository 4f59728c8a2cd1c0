"""Events as plain JSON data and back (S03): the machinery behind ``to_dict``/``from_dict``.

An event's wire form is a flat dict: ``"kind"`` (its wire name), ``"v"``
(the schema version), then its fields, ids as strings, times as floats and
enums as their string values. ``kefu.events`` declares each kind's fields
with the specs below; this module knows nothing of the event classes, so
the two import cleanly in either order.

Decoding trusts nothing: the input must be an exact ``dict`` whose keys are
exact ``str``, with exactly the kind's fields, each of its exact type. The
checks read types and compare exact strings only, so no method of a
caller's object runs (its ``__eq__``, ``__hash__``, ``__getitem__``...);
every refusal is an :class:`InvalidEvent` whose message quotes the culprit
through ``short_repr`` (bounded; a failing ``__repr__`` is caught).
Cost: O(fields) to encode, O(len(data)) to decode.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kefu._checks import MAX_PRIORITY
from kefu._text import short_repr
from kefu.errors import InvalidEvent

__all__ = [
    "GROUPS_OR_ANY",
    "ID",
    "OPTIONAL_ID",
    "PRIORITY",
    "SCHEMA_VERSION",
    "STEP",
    "TIME",
    "Field",
    "Schema",
    "Spec",
    "decode",
    "encode",
    "enum_value",
]

#: The version of the wire form; bump it when a kind's fields change meaning or shape.
SCHEMA_VERSION = 1


@attrs.frozen
class Spec:
    """How one field's value looks on the wire.

    ``accepts`` tests a wire value by exact type and value (it must not call
    anything on it); ``decode`` and ``encode`` convert between wire and event
    values, None meaning the value is the same on both sides.
    """

    what: str
    accepts: Callable[[object], bool]
    decode: Callable[[Any], object] | None = None
    encode: Callable[[Any], object] | None = None


@attrs.frozen
class Field:
    """One named field of an event kind, in wire order.

    An ``optional`` field is left out of the wire form while its value is None
    and may be absent when decoding (None then): a field added later keeps the
    older wire forms exactly as they were.
    """

    name: str
    spec: Spec
    optional: bool = False


@attrs.frozen
class Schema:
    """An event kind: its wire name, its class and its fields in wire order."""

    kind: str
    cls: type[Any]
    fields: tuple[Field, ...]


def _is_id(value: object) -> bool:
    return type(value) is str and len(value) > 0


ID = Spec("a non-empty string", _is_id)
OPTIONAL_ID = Spec("null or a non-empty string", lambda value: value is None or _is_id(value))
# The range test is False for NaN and the infinities.
TIME = Spec("finite seconds as a float",
            lambda value: type(value) is float and -math.inf < value < math.inf)
PRIORITY = Spec(f"an integer within ±{MAX_PRIORITY}",
                lambda value: type(value) is int and -MAX_PRIORITY <= value <= MAX_PRIORITY)


#: The largest ladder step number (R24) a wire form may carry.
MAX_STEP = 1_000


def _is_groups(value: object) -> bool:
    """A non-empty list of distinct non-empty strings in sorted order (exact types only)."""
    if type(value) is not list or not value or not all(_is_id(g) for g in value):
        return False
    return all(a < b for a, b in itertools.pairwise(value))


STEP = Spec(f"an integer from 1 to {MAX_STEP}",
            lambda value: type(value) is int and 1 <= value <= MAX_STEP)
#: A ladder step's groups (R24): a sorted list of names on the wire, a tuple in the
#: event, or null for "any agent".
GROUPS_OR_ANY = Spec(
    "null or a sorted list of distinct non-empty strings",
    lambda value: value is None or _is_groups(value),
    lambda value: None if value is None else tuple(value),
    lambda groups: None if groups is None else list(groups),
)


def enum_value(enum_cls: type[Any], *, optional: bool = False) -> Spec:
    """The spec of a field holding a member of ``enum_cls`` (or None if ``optional``)."""
    members: Mapping[str, Any] = {member.value: member for member in enum_cls}
    names = sorted(members)
    if optional:
        return Spec(
            f"null or one of {names}",
            lambda value: value is None or (type(value) is str and value in members),
            lambda value: None if value is None else members[value],
            lambda member: None if member is None else member.value,
        )
    return Spec(
        f"one of {names}",
        lambda value: type(value) is str and value in members,
        members.__getitem__,
        lambda member: member.value,
    )


def encode(event: object, schema: Schema) -> dict[str, Any]:
    """``event`` as ``{"kind": ..., "v": SCHEMA_VERSION, <fields in wire order>}``."""
    data: dict[str, Any] = {"kind": schema.kind, "v": SCHEMA_VERSION}
    for field in schema.fields:
        value = getattr(event, field.name)
        if field.optional and value is None:
            continue
        data[field.name] = value if field.spec.encode is None else field.spec.encode(value)
    return data


def decode(data: object, schemas: Mapping[str, Schema]) -> Any:
    """The event whose wire form is ``data``, or InvalidEvent naming the first fault."""
    if type(data) is not dict:
        raise InvalidEvent(f"event data must be a dict, got {short_repr(data)}")
    for key in data:
        if type(key) is not str:
            raise InvalidEvent(f"event data keys must be strings, got {short_repr(key)}")
    if "kind" not in data:
        keys = list(itertools.islice(data, 8))
        raise InvalidEvent(f"event data has no 'kind' (its keys: {short_repr(keys)})")
    kind = data["kind"]
    schema = schemas.get(kind) if type(kind) is str else None
    if schema is None:
        raise InvalidEvent(f"unknown event kind {short_repr(kind)}: expected one of"
                           f" {list(schemas)}")
    version = data.get("v")
    if type(version) is not int or version != SCHEMA_VERSION:
        got = "no 'v'" if "v" not in data else f"'v' {short_repr(version)}"
        raise InvalidEvent(f"{kind} event data has {got}: this kefu reads event schema"
                           f" version {SCHEMA_VERSION}")
    missing = [field.name for field in schema.fields
               if field.name not in data and not field.optional]
    if missing:
        raise InvalidEvent(f"{kind} event data lacks {short_repr(missing)}")
    present = sum(1 for field in schema.fields if field.name in data)
    if len(data) != present + 2:
        known = {"kind", "v", *(field.name for field in schema.fields)}
        extra = list(itertools.islice((key for key in data if key not in known), 8))
        raise InvalidEvent(f"{kind} event data has unexpected fields {short_repr(extra)}")
    values: dict[str, object] = {}
    for field in schema.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        spec = field.spec
        if not spec.accepts(value):
            raise InvalidEvent(f"{kind} event field {field.name!r}: expected {spec.what},"
                               f" got {short_repr(value)}")
        values[field.name] = value if spec.decode is None else spec.decode(value)
    return schema.cls(**values)
