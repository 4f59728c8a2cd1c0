"""Messages as columns: :class:`MessageTable`, the columnar form of a list of Message records.

A backend that keeps its messages in a database or a dataframe can hand the
KPI functions its columns instead of building a :class:`Message` per row:
every KPI function that takes ``messages`` takes a MessageTable in their
place, with identical results, and reads it without making a record per row
(:mod:`kefu.kpi.table_scan`).

The columns are checked once, when the table is made, by the rules a Message
record is checked by (same accepted values, same :class:`InvalidRecord`),
and the error names the column and the row (``MessageTable.at[17] must
be ...``). The table keeps read-only copies of its own, and the KPI
functions check them again when they read them (:func:`recheck`), as they
do records. Cost: O(n) at C speed for clean columns (numpy
arrays of numbers, lists of exact ``str``); O(n) Python steps for a column
that needs rebuilding (``str`` subclasses) or senders given as a mix of kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from kefu._text import short_repr
from kefu.kpi import kernel
from kefu.kpi.errors import InvalidRecord
from kefu.kpi.intake import _INT, _OPT_STR, _STR, checked, checked_field
from kefu.kpi.records import MAX_TIME, MIN_TIME, Message, Sender, time_error

__all__ = ["SENDER_CODES", "MessageTable", "recheck"]

_OWNER = "MessageTable"
#: The code of each sender in a ``sender`` column of small ints: BUYER 0, AGENT 1,
#: BOT 2, SYSTEM 3, UNKNOWN 4 (the order of :class:`Sender`).
SENDER_CODES: dict[Sender, int] = {s: n for n, s in enumerate(Sender)}
_SENDERS = tuple(Sender)
_CODE_BY_ID = {id(s): n for s, n in SENDER_CODES.items()}
_CODE_BY_VALUE = {s.value: n for s, n in SENDER_CODES.items()}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


@attrs.frozen(init=False, eq=False)
class MessageTable:
    """Chat messages as columns, one row per message (see docs/kpi.md, "Messages as columns").

    Columns (numpy arrays, read-only): ``at`` float64 POSIX seconds;
    ``session_id``, ``buyer_id``, ``message_id`` object arrays of ``str``;
    ``agent_id`` an object array of ``str`` or None; ``sender`` int8 codes
    (:data:`SENDER_CODES`); ``seq`` int64, or an object array of ``int`` when
    some value does not fit in 64 bits. Make one from columns
    (``MessageTable(at=..., ...)`` or :meth:`from_columns`), or with
    :meth:`from_records`, :meth:`from_pandas` or :meth:`from_arrow`.

    Iterating a table yields its rows as Message records (what
    :meth:`to_records` returns), so it goes wherever messages do.
    """

    at: FloatArray
    session_id: ObjectArray
    buyer_id: ObjectArray
    sender: npt.NDArray[np.int8]
    message_id: ObjectArray
    agent_id: ObjectArray
    seq: npt.NDArray[Any]

    def __init__(self, *, at: Iterable[Any], session_id: Iterable[Any],
                 buyer_id: Iterable[Any], sender: Iterable[Any], message_id: Iterable[Any],
                 agent_id: Iterable[Any] | None = None,
                 seq: Iterable[Any] | None = None) -> None:
        """A table from one sequence (list, tuple, numpy array, any iterable) per column.

        - ``at``: POSIX seconds, exact ``float``/``int`` or a numpy int/float
          array, each in [0, 2**32);
        - ``session_id``, ``buyer_id``, ``message_id``: ``str`` (a numpy ``str``
          or object array too); a ``str`` subclass counts as its plain string;
        - ``sender``: ``Sender`` members, their values (``"buyer"``, ``"agent"``,
          ...), or their codes 0-4 (:data:`SENDER_CODES`), e.g. a numpy int8
          array (the fastest);
        - ``agent_id``: ``str`` or None per row; None for the column = no names;
        - ``seq``: exact ``int`` (any size) or a numpy int array; None = all 0.

        Raises InvalidRecord naming the column and row of the first bad value,
        or when the columns differ in length. Cost: O(n), see the module doc.
        """
        times = _times(at)
        n = len(times)
        agents = (np.full(n, None, dtype=object) if agent_id is None
                  else _strs("agent_id", agent_id, _OPT_STR))
        columns: tuple[npt.NDArray[Any], ...] = (
            times, _strs("session_id", session_id, _STR), _strs("buyer_id", buyer_id, _STR),
            _senders(sender), _strs("message_id", message_id, _STR), agents,
            np.zeros(n, dtype=np.int64) if seq is None else _seqs(seq))
        for name, column in zip(_COLUMNS, columns, strict=True):
            if len(column) != n:
                raise InvalidRecord(f"{_OWNER} columns differ in length: at has {n} rows,"
                                    f" {name} has {len(column)}")
            column.setflags(write=False)  # our own copy: what was checked is what is used
            object.__setattr__(self, name, column)

    @classmethod
    def from_columns(cls, *, at: Iterable[Any], session_id: Iterable[Any],
                     buyer_id: Iterable[Any], sender: Iterable[Any], message_id: Iterable[Any],
                     agent_id: Iterable[Any] | None = None,
                     seq: Iterable[Any] | None = None) -> MessageTable:
        """``MessageTable(...)`` by name: a table from one sequence per column."""
        return cls(at=at, session_id=session_id, buyer_id=buyer_id, sender=sender,
                   message_id=message_id, agent_id=agent_id, seq=seq)

    @classmethod
    def from_records(cls, messages: Iterable[Message]) -> MessageTable:
        """The table of ``messages`` (checked as every KPI function checks them).

        An ``int`` time becomes its (exact) float. Raises InvalidRecord for a
        record that is not a valid Message. O(n).
        """
        msgs = checked(messages, Message)
        return cls.from_columns(
            at=[m.at for m in msgs], session_id=[m.session_id for m in msgs],
            buyer_id=[m.buyer_id for m in msgs],
            sender=np.fromiter((SENDER_CODES[m.sender] for m in msgs), np.int8, len(msgs)),
            message_id=[m.message_id for m in msgs], agent_id=[m.agent_id for m in msgs],
            seq=[m.seq for m in msgs])

    @classmethod
    def from_pandas(cls, frame: Any, **names: str) -> MessageTable:
        """The table of a pandas DataFrame's columns (pandas is not a dependency of kefu).

        Columns are found by their field names (``at``, ``session_id``, ...);
        ``names`` renames, e.g. ``at="ts"``. ``agent_id`` and ``seq`` may be
        absent; a missing value (None, NaN, NA) in ``agent_id`` is None.
        Other columns are checked as by :meth:`from_columns`. O(n).
        """
        columns: dict[str, Any] = {}
        for field in _COLUMNS:
            name = names.pop(field, field)
            if name not in frame.columns:
                if field in _OPTIONAL:
                    continue
                raise InvalidRecord(f"{_OWNER}: the frame has no column {short_repr(name)}")
            series = frame[name]
            if field == "agent_id":
                series = series.astype(object).where(series.notna(), None)
            columns[field] = series.to_numpy()
        if names:
            raise TypeError(f"not a MessageTable column: {short_repr(sorted(names))}")
        return cls.from_columns(**columns)

    @classmethod
    def from_arrow(cls, table: Any, **names: str) -> MessageTable:
        """The table of a pyarrow Table's columns (pyarrow is not a dependency of kefu).

        Columns are found as by :meth:`from_pandas`; a null ``agent_id`` is None,
        a null anywhere else is refused. O(n).
        """
        columns: dict[str, Any] = {}
        for field in _COLUMNS:
            name = names.pop(field, field)
            if name not in table.column_names:
                if field in _OPTIONAL:
                    continue
                raise InvalidRecord(f"{_OWNER}: the table has no column {short_repr(name)}")
            columns[field] = table.column(name).to_numpy()  # strings: an object array
        if names:
            raise TypeError(f"not a MessageTable column: {short_repr(sorted(names))}")
        return cls.from_columns(**columns)

    def to_records(self) -> list[Message]:
        """The rows as Message records, in row order. O(n) (a record per row)."""
        return list(map(Message, self.session_id.tolist(), self.buyer_id.tolist(),
                        self.at.tolist(), map(_SENDERS.__getitem__, self.sender.tolist()),
                        self.message_id.tolist(), self.agent_id.tolist(), self.seq.tolist()))

    def __len__(self) -> int:
        return len(self.at)

    def __iter__(self) -> Iterator[Message]:
        return iter(self.to_records())

    def __repr__(self) -> str:
        return f"<MessageTable of {len(self)} messages>"


_COLUMNS = ("at", "session_id", "buyer_id", "sender", "message_id", "agent_id", "seq")
_OPTIONAL = frozenset(("agent_id", "seq"))


_DTYPES = {"at": (np.float64,), "sender": (np.int8,), "seq": (np.int64, np.object_)}


def recheck(table: MessageTable, ids: bool) -> None:
    """Raise InvalidRecord unless ``table``'s columns still hold what was checked when it
    was made: a column's write flag can be turned back on, and a frozen class's field
    replaced (``object.__setattr__``), as a record's can. Shapes, types, times and
    sender codes always (vectorized: milliseconds for millions of rows); the ids'
    types too when ``ids`` (O(n) at C speed; the compiled kernel checks those itself).
    """
    n = len(table.at) if isinstance(table.at, np.ndarray) else -1
    for name in _COLUMNS:
        column = getattr(table, name)
        if (type(column) is not np.ndarray or column.ndim != 1 or len(column) != n
                or column.dtype.type not in _DTYPES.get(name, (np.object_,))):
            raise InvalidRecord(f"{_OWNER}.{name} was replaced after the table was made,"
                                f" got {short_repr(column)}")
    _times(table.at)
    _senders(table.sender)
    if table.seq.dtype == np.object_:
        _seqs(table.seq)
    if ids:
        for name in ("session_id", "buyer_id", "message_id", "agent_id"):
            kinds = {str} if name != "agent_id" else {str, type(None)}
            values = getattr(table, name).tolist()
            if not set(map(type, values)) <= kinds:
                row = next(row for row, v in enumerate(values) if type(v) not in kinds)
                raise InvalidRecord(f"{_OWNER}.{name}[{row}] was changed after the table"
                                    f" was made, got {short_repr(values[row])}")


def _items(name: str, values: Iterable[Any]) -> list[Any]:
    """A column's values as a list of Python objects (read once)."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise InvalidRecord(f"{_OWNER}.{name} must be one-dimensional, got shape"
                                f" {values.shape}")
        return values.tolist()  # type: ignore[no-any-return]
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidRecord(f"{_OWNER}.{name} must be a sequence of values, got"
                            f" {short_repr(values)}")
    return list(values)


def _times(values: Iterable[Any]) -> FloatArray:
    """The ``at`` column as float64, every value checked as a Message's time."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiu":
        at = values.astype(np.float64)
        ok = (at >= MIN_TIME) & (at < MAX_TIME)  # NaN fails both
        if not ok.all():
            row = int(np.argmin(ok))
            raise time_error(_OWNER, f"at[{row}]", values[row].item())
        return at
    items = _items("at", values)
    if set(map(type, items)) <= {float, int}:
        try:
            at = np.array(items, dtype=np.float64)
        except OverflowError:  # an int beyond any float: refused below
            pass
        else:
            if ((at >= MIN_TIME) & (at < MAX_TIME)).all():
                return at
    row = next(row for row, value in enumerate(items)
               if not ((type(value) is float or type(value) is int)
                       and MIN_TIME <= value < MAX_TIME))
    raise time_error(_OWNER, f"at[{row}]", items[row])


def _strs(name: str, values: Iterable[Any], kind: int) -> ObjectArray:
    """An id column as an object array of plain ``str`` (None too when ``kind`` allows)."""
    items = _items(name, values)
    # checked and stored in one pass (a subclass's ``tolist`` may give other than a list)
    if kernel.ACTIVE == "c" and type(items) is list:
        out = np.empty(len(items), dtype=object)
        if kernel.compiled("str_column")(items, kind != _STR, out):
            return out
    allowed = {str} if kind == _STR else {str, type(None)}
    if not set(map(type, items)) <= allowed:
        items = [checked_field(_OWNER, f"{name}[{row}]", kind, value)
                 for row, value in enumerate(items)]
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _senders(values: Iterable[Any]) -> npt.NDArray[np.int8]:
    """The ``sender`` column as int8 codes (:data:`SENDER_CODES`)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu":
        if len(values) and not (values.min() >= 0 and values.max() < len(_SENDERS)):
            row = int(np.argmax((values < 0) | (values >= len(_SENDERS))))
            raise _sender_error(row, values[row])
        return values.astype(np.int8)
    items = _items("sender", values)
    kinds = set(map(type, items))
    codes: list[int | None]
    if kinds <= {Sender}:
        codes = list(map(_CODE_BY_ID.get, map(id, items)))
    elif kinds <= {str}:
        codes = list(map(_CODE_BY_VALUE.get, items))
    else:
        codes = list(map(_sender_code, items))
    if None in codes:
        row = codes.index(None)
        raise _sender_error(row, items[row])
    return np.array(codes, dtype=np.int8)


def _sender_code(value: object) -> int | None:
    if type(value) is Sender:
        return _CODE_BY_ID[id(value)]
    if type(value) is str:
        return _CODE_BY_VALUE.get(value)
    if type(value) is int and 0 <= value < len(_SENDERS):
        return value
    return None


def _sender_error(row: int, value: object) -> InvalidRecord:
    return InvalidRecord(f"{_OWNER}.sender[{row}] must be a Sender, its value ('buyer',"
                         f" 'agent', 'bot', 'system', 'unknown') or its code 0-4, got"
                         f" {short_repr(value)}")


def _seqs(values: Iterable[Any]) -> npt.NDArray[Any]:
    """The ``seq`` column: int64, or an object array of ints when one does not fit."""
    if (isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu"
            and (values.dtype.kind == "i" or not len(values) or values.max() <= _INT64_MAX)):
        return values.astype(np.int64)
    items = _items("seq", values)
    if not set(map(type, items)) <= {int}:
        for row, value in enumerate(items):
            checked_field(_OWNER, f"seq[{row}]", _INT, value)
    if not items or (min(items) >= _INT64_MIN and max(items) <= _INT64_MAX):
        return np.array(items, dtype=np.int64)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
