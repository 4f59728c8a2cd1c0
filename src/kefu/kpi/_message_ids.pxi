# The compiled feed's messages by id (``Feed.kept``): included in ``_live_c.pyx``, which
# has cimported ``cython``, ``PyObject`` and ``PyUnicode_CheckExact`` and declared
# ``PyObject_RichCompareBool``.

from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcpy, memset
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF

cdef extern from "Python.h":
    Py_hash_t _str_hash "PyObject_Hash"(PyObject* o) noexcept  # an exact str's: never fails
    object PyUnicode_FromObject(object o)


ctypedef struct _IdSlot:
    Py_hash_t hash
    PyObject* key    # an exact str, owned; NULL: the slot is empty
    PyObject* value  # owned


cdef object _NO_DEFAULT = object()  # pop: raise KeyError when the id is not there


cdef inline void _id_put(_IdSlot* slots, Py_ssize_t mask, _IdSlot* entry) noexcept:
    """Put ``entry`` in the first empty slot from its home on (``MessageIds._grow``)."""
    cdef Py_ssize_t i = <Py_ssize_t>(<size_t>entry.hash & <size_t>mask)
    while slots[i].key != NULL:
        i = (i + 1) & mask
    slots[i] = entry[0]


cdef inline void _id_move(_IdSlot* slots, Py_ssize_t mask, Py_ssize_t k) noexcept:
    """Take the id in slot ``k`` out and put it in its place under ``mask`` (``_grow``)."""
    cdef _IdSlot entry = slots[k]
    slots[k].hash = 0
    slots[k].key = NULL
    slots[k].value = NULL  # an empty slot's value is NULL: ``find`` reads it
    _id_put(slots, mask, &entry)


@cython.final
@cython.no_gc  # holds exact str keys and messages, which refer to nothing of it
cdef class MessageIds:
    """A dict of message id -> message for the compiled feed's repeat check, in C:
    one probe of one array finds whether an id was seen, where a dict reads its
    index array, then its entries array, at two unrelated places. On a day of
    millions of ids neither is in the cache, so a dict's lookup costs two or
    three cache misses a new message and this one (the slot holds the hash, the
    id and the message; neighbours are probed in the same line). Measured on a
    2,000,000-message day it saves about 0.3 us of a record's ``add``.

    It behaves as the dict it replaces for what the tracker and a reader use
    (``kefu.kpi.live_feed.KeptMessages`` names it): ``get``, ``[]``, ``in``,
    ``pop``, ``del``, ``len``, iteration in the order the ids were first set
    (a value replaced keeps its place, an id set again after a ``pop`` goes
    last; ``reversed`` too), ``keys``/``values``/``items`` (lists: copies, so
    changing it while iterating raises nothing), and ``==`` with a dict or
    another one. It is no full mapping (no ``update``, ``setdefault``,
    ``copy``, pickling). Its keys are exact ``str`` (a message's id always
    is: intake makes it so); setting any other key is a TypeError, a ``str``
    subclass is looked up as its plain ``str``, any other hashable key is
    never there and an unhashable one is a TypeError, as in a dict. No
    Python code runs inside it but a value's release and a non-str key's
    hash. It takes no part in garbage collection: a value that referred back
    to it would never be collected (a message cannot).

    Costs: ``get``/``in``/setting O(1) expected (linear probing, at most two
    thirds full, doubled when it would be more); ``pop``/``del`` O(1) for the
    newest id (the feed takes back the message it just filed) and O(n) at
    worst; iterating O(n). Memory: 24 bytes a slot, a third to two thirds of
    them empty, plus 8 bytes an id for the order: 1.4 to 1.9 times a dict's
    (measured: 117 MB against 62 MB for 1,500,000 ids), for the one probe."""

    cdef _IdSlot* slots
    cdef Py_ssize_t mask  # slots - 1 (a power of two)
    cdef Py_ssize_t used
    cdef PyObject** order  # the keys in the order first set (borrowed; NULL: popped)
    cdef Py_ssize_t n_order, order_room, holes

    def __cinit__(self):
        self.slots = <_IdSlot*>PyMem_Calloc(8, sizeof(_IdSlot))
        self.order = <PyObject**>PyMem_Calloc(8, sizeof(PyObject*))
        if self.slots == NULL or self.order == NULL:
            raise MemoryError()
        self.mask = 7
        self.order_room = 8

    def __dealloc__(self):
        cdef Py_ssize_t k
        if self.slots != NULL:
            for k in range(self.mask + 1):
                if self.slots[k].key != NULL:
                    Py_DECREF(<object>self.slots[k].key)
                    Py_XDECREF(self.slots[k].value)
            PyMem_Free(self.slots)
        PyMem_Free(self.order)

    # The C side, for the feed ----------------------------------------------------------

    cdef inline Py_ssize_t _probe(self, PyObject* key, Py_hash_t h) noexcept:
        """The slot of exact str ``key`` (hash ``h``), or the empty slot where it would
        go. Comparing exact strs runs no Python code (and cannot fail)."""
        cdef Py_ssize_t i = <Py_ssize_t>(<size_t>h & <size_t>self.mask)
        cdef _IdSlot* slot
        while True:
            slot = &self.slots[i]
            if slot.key == NULL or slot.key == key:
                return i
            if slot.hash == h and PyObject_RichCompareBool(slot.key, key, Py_EQ) == 1:
                return i
            i = (i + 1) & self.mask

    cdef inline PyObject* find(self, PyObject* key) noexcept:
        """The message kept for exact str ``key`` (borrowed), or NULL (no error set)."""
        cdef Py_hash_t h = _str_hash(key)
        return self.slots[self._probe(key, h)].value

    cdef int put(self, object key, object value) except -1:
        """Set ``key`` (an exact str) to ``value``. Room is made first: a MemoryError
        leaves it as it was; a key of any other type is a TypeError."""
        if not PyUnicode_CheckExact(<PyObject*>key):
            raise TypeError(f"a message id is a str, got {type(key).__name__}")
        cdef Py_hash_t h = _str_hash(<PyObject*>key)
        cdef Py_ssize_t i = self._probe(<PyObject*>key, h)
        cdef PyObject* old = self.slots[i].value
        if self.slots[i].key != NULL:  # there: the value replaced, its place kept
            Py_INCREF(value)
            self.slots[i].value = <PyObject*>value
            Py_XDECREF(old)  # last: a value's release may run code
            return 0
        if (self.used + 1) * 3 > (self.mask + 1) * 2:
            self._grow()
            i = self._probe(<PyObject*>key, h)
        if self.n_order == self.order_room:
            self._grow_order()
        Py_INCREF(key)
        Py_INCREF(value)
        self.slots[i].hash = h
        self.slots[i].key = <PyObject*>key
        self.slots[i].value = <PyObject*>value
        self.used += 1
        self.order[self.n_order] = <PyObject*>key
        self.n_order += 1
        return 0

    cdef int _grow(self) except -1:
        """Twice the slots, every id moved to its place among them, in place: the
        slots' memory is grown (a big block's pages are remapped, not copied) and the
        ids are placed again where they lie, so a table of millions of ids does not
        take a whole new one, twice its size, of memory the process never touched
        (whose first touch is a page fault every 4 KiB) and give the old one back.

        The order of placing keeps every probe run whole: the ids from slot 0 up to
        the first empty slot ``f`` (the run that may have wrapped round the end) are
        set aside first, then the ids after ``f`` are each taken out and placed
        again, in slot order, and the ones set aside last. An id after ``f`` has its
        home in ``(f, its slot]`` (its run cannot cross the empty ``f`` nor wrap), so
        placed again from its new home (the same slot number, or that plus the old
        size) it passes only slots already done, and stops at the latest at its own
        slot, just emptied; one whose new home is in the new half passes only ids
        placed again, or wraps round into ``[0, f)``, emptied first. MemoryError
        (growing, or the few ids set aside) leaves it as it was, in more room.
        O(n)."""
        cdef Py_ssize_t old_size = self.mask + 1, size = 2 * old_size, mask = size - 1
        cdef Py_ssize_t k, f = 0
        cdef _IdSlot* slots = <_IdSlot*>PyMem_Realloc(self.slots,
                                                       <size_t>size * sizeof(_IdSlot))
        cdef _IdSlot* aside = NULL
        if slots == NULL:
            raise MemoryError()
        self.slots = slots  # the old mask still holds: the new half is not read yet
        memset(&slots[old_size], 0, <size_t>old_size * sizeof(_IdSlot))
        while slots[f].key != NULL:  # there is an empty slot: at most two thirds full
            f += 1
        if f:
            aside = <_IdSlot*>PyMem_Malloc(<size_t>f * sizeof(_IdSlot))
            if aside == NULL:
                raise MemoryError()
            memcpy(aside, slots, <size_t>f * sizeof(_IdSlot))
            memset(slots, 0, <size_t>f * sizeof(_IdSlot))
        self.mask = mask
        for k in range(f + 1, old_size):
            if slots[k].key != NULL:
                _id_move(slots, mask, k)
        for k in range(f):
            _id_put(slots, mask, &aside[k])
        PyMem_Free(aside)
        return 0

    cdef int _grow_order(self) except -1:
        """Room for twice the ids in the order (the popped ones' holes squeezed out
        first when they are half of it). O(n)."""
        cdef Py_ssize_t k, n = 0
        cdef PyObject** grown
        if self.holes * 2 >= self.n_order:
            for k in range(self.n_order):
                if self.order[k] != NULL:
                    self.order[n] = self.order[k]
                    n += 1
            self.n_order, self.holes = n, 0
            return 0
        grown = <PyObject**>PyMem_Realloc(self.order, 2 * self.order_room * sizeof(PyObject*))
        if grown == NULL:
            raise MemoryError()
        self.order, self.order_room = grown, 2 * self.order_room
        return 0

    cdef object _take_out(self, PyObject* key, object default):
        """Remove exact str ``key`` and return its value (``default`` when it is not
        there; KeyError if that is ``_NO_DEFAULT``). The probe run after it is closed
        by moving later ids back (no tombstones). O(1) expected, plus finding its
        place in the order: from the newest, so O(1) for it."""
        cdef Py_ssize_t i = self._probe(key, _str_hash(key)), j, home, k
        if self.slots[i].key == NULL:
            if default is _NO_DEFAULT:
                raise KeyError(<object>key)
            return default
        stored = <object>self.slots[i].key  # its references, released as we return
        value = <object>self.slots[i].value
        Py_DECREF(stored)
        Py_DECREF(value)
        j = i
        while True:  # backward-shift deletion
            self.slots[i].key = NULL
            self.slots[i].value = NULL
            while True:
                j = (j + 1) & self.mask
                if self.slots[j].key == NULL:
                    break
                home = <Py_ssize_t>(<size_t>self.slots[j].hash & <size_t>self.mask)
                # j's id may move to i when its home is not cyclically in (i, j]
                if (i <= j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                    break
            if self.slots[j].key == NULL:
                break
            self.slots[i] = self.slots[j]
            i = j
        self.used -= 1
        for k in range(self.n_order - 1, -1, -1):
            if self.order[k] == <PyObject*>stored:
                if k == self.n_order - 1:
                    self.n_order -= 1
                else:
                    self.order[k] = NULL
                    self.holes += 1
                break
        return value

    cdef object _plain(self, key):
        """``key`` as the exact str it is looked up by, or None if it is no str."""
        if PyUnicode_CheckExact(<PyObject*>key):
            return key
        if isinstance(key, str):
            return PyUnicode_FromObject(key)  # a subclass's plain copy: none of its code
        hash(key)  # an unhashable key is a TypeError, as a dict's lookup makes it
        return None

    # The dict side, for the tracker's Python code and readers ---------------------------

    def __len__(self):
        return self.used

    def __contains__(self, key):
        return self._found(key) != NULL

    cdef PyObject* _found(self, key) except? NULL:
        """The message kept for ``key`` (borrowed), or NULL."""
        plain = self._plain(key)
        if plain is None:
            return NULL
        return self.find(<PyObject*>plain)

    def __getitem__(self, key):
        cdef PyObject* found = self._found(key)
        if found == NULL:
            raise KeyError(key)
        return <object>found

    def get(self, key, default=None):
        cdef PyObject* found = self._found(key)
        return default if found == NULL else <object>found

    def __setitem__(self, key, value):
        self.put(key, value)

    def __delitem__(self, key):
        plain = self._plain(key)
        if plain is None:
            raise KeyError(key)
        self._take_out(<PyObject*>plain, _NO_DEFAULT)

    def pop(self, key, default=_NO_DEFAULT):
        plain = self._plain(key)
        if plain is None:
            if default is _NO_DEFAULT:
                raise KeyError(key)
            return default
        return self._take_out(<PyObject*>plain, default)

    def keys(self):
        """The ids, oldest first (a list: nothing runs while it is made)."""
        cdef Py_ssize_t k
        return [<object>self.order[k] for k in range(self.n_order) if self.order[k] != NULL]

    def values(self):
        """The messages, in the order of their ids (a list)."""
        return [self[key] for key in self.keys()]

    def items(self):
        """(id, message) pairs, in order (a list)."""
        return [(key, self[key]) for key in self.keys()]

    def __iter__(self):
        return iter(self.keys())

    def __reversed__(self):
        return reversed(self.keys())

    def __eq__(self, other):
        if not isinstance(other, (dict, MessageIds)):
            return NotImplemented
        if len(other) != self.used:
            return False
        for key, value in self.items():
            if key not in other:
                return False
            theirs = other[key]
            if theirs is not value and not theirs == value:
                return False
        return True

    def __ne__(self, other):
        same = self.__eq__(other)
        return same if same is NotImplemented else not same

    __hash__ = None

    def __repr__(self):
        return f"MessageIds({dict(self.items())!r})"

