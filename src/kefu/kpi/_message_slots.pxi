# Where an exact Message keeps each field: shared by the compiled KPI modules that
# read a Message's slots straight from memory (included, not imported: the offsets
# are module constants of each). Each includer has already defined ``_MESSAGE``
# (the Message class) and ``MemberDescriptorType``, and cimported ``PyObject``.


# What of Python.h both compiled readers use: a member descriptor's layout, and the
# exact-type checks that keep a subclass's code from running.
cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    PyObject* _PyType_Lookup(type t, object name)  # borrowed, NULL if none; runs no code
    bint PyUnicode_CheckExact(PyObject* o)
    bint PyFloat_CheckExact(PyObject* o)
    bint PyLong_CheckExact(PyObject* o)
    double PyFloat_AS_DOUBLE(PyObject* o)

cdef extern from *:
    """
    /* Whether type ``t`` looks attributes up the ordinary way (no __getattribute__ or
       __getattr__ of its own): a slot is then read through its descriptor. */
    static int kefu_plain_getattr(PyObject *t) {
        return ((PyTypeObject *)t)->tp_getattro == PyObject_GenericGetAttr;
    }
    /* The type's version tag, or 0 when it has none: CPython gives a class a new tag
       (never one it had) after any assignment to one of its attributes or its bases'.
       Before 3.11, PyType_ClearCache (sys._clear_type_cache()) numbers the tags again
       from the start, so a class may get back a tag it had: 0 there (no verdict kept). */
    static unsigned int kefu_version_tag(PyObject *t) {
    #if PY_VERSION_HEX < 0x030B0000
        (void)t;
        return 0;
    #else
        PyTypeObject *tp = (PyTypeObject *)t;
        return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? tp->tp_version_tag : 0;
    #endif
    }
    """
    bint kefu_plain_getattr(object t) noexcept
    unsigned int kefu_version_tag(object t) noexcept


cdef Py_ssize_t _own_slot(type cls, str name) noexcept:
    """Where an exact ``cls`` keeps field ``name``, when attribute lookup on ``cls``
    finds one of ``cls``'s own object slots for it (what ``getattr`` then reads is what
    the slot holds); else -1. No code of the class's runs. O(MRO)."""
    cdef PyObject* descr = _PyType_Lookup(cls, name)
    if descr == NULL or type(<object>descr) is not MemberDescriptorType:
        return -1
    if (<object>descr).__objclass__ is not cls:  # a base's slot, or a foreign one
        return -1
    cdef PyMemberDef* member = (<PyMemberDescrObject*>descr).d_member
    if member.type != 16:  # T_OBJECT_EX: a PyObject* that may be NULL (unset)
        return -1
    return member.offset


cdef Py_ssize_t _slot_offset(str name) except -1:
    """Where field ``name`` lives in an exact Message (a slot holding an object)."""
    cdef Py_ssize_t offset = _own_slot(_MESSAGE, name)
    if offset < 0:
        raise ImportError(f"{__name__}: Message.{name} is not an object slot of its own")
    return offset


cdef Py_ssize_t _SID = _slot_offset("session_id")
cdef Py_ssize_t _BID = _slot_offset("buyer_id")
cdef Py_ssize_t _AT = _slot_offset("at")
cdef Py_ssize_t _SENDER = _slot_offset("sender")
cdef Py_ssize_t _MID = _slot_offset("message_id")
cdef Py_ssize_t _AGENT_ID = _slot_offset("agent_id")
cdef Py_ssize_t _SEQ = _slot_offset("seq")


cdef tuple _FIELDS = (("session_id", _SID), ("buyer_id", _BID), ("at", _AT),
                      ("sender", _SENDER), ("message_id", _MID), ("agent_id", _AGENT_ID),
                      ("seq", _SEQ))
cdef unsigned int _read_as_slots_tag = 0  # the version tag Message was last found plain at


cdef bint _message_reads_slots() noexcept:
    """Whether ``m.at`` (and every other field) of an exact Message gives what its slot
    holds, so the slots may be read straight: Message looks attributes up the ordinary
    way and each field is still its own slot at the offset taken at import. A patched
    class (a ``__getattribute__``/``__getattr__`` of its own, a field replaced by a
    property) answers False, and the caller leaves the records to the reference, which
    reads them as patched. The verdict is kept with the class's version tag, which any
    assignment to the class changes: O(1) (a compare) until then, O(fields) after
    (each call before Python 3.11, whose tags may come back: see kefu_version_tag)."""
    global _read_as_slots_tag
    cdef unsigned int tag = kefu_version_tag(_MESSAGE)
    if tag != 0 and tag == _read_as_slots_tag:
        return True
    if not kefu_plain_getattr(_MESSAGE):
        return False
    for name, offset in _FIELDS:
        if _own_slot(_MESSAGE, name) != offset:
            return False
    _read_as_slots_tag = kefu_version_tag(_MESSAGE)  # the lookups above assign one
    return True


cdef inline PyObject* _slot(object m, Py_ssize_t offset) noexcept:
    """The object in the slot at ``offset`` of exact Message ``m`` (borrowed; NULL if unset)."""
    return (<PyObject**>((<char*><PyObject*>m) + offset))[0]
