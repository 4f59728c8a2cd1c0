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
    bint PyUnicode_CheckExact(PyObject* o)
    bint PyFloat_CheckExact(PyObject* o)
    bint PyLong_CheckExact(PyObject* o)
    double PyFloat_AS_DOUBLE(PyObject* o)

cdef Py_ssize_t _slot_offset(str name) except -1:
    """Where field ``name`` lives in an exact Message (a slot holding an object)."""
    descr = _MESSAGE.__dict__[name]
    if type(descr) is not MemberDescriptorType:
        raise ImportError(f"{__name__}: Message.{name} is not a slot")
    cdef PyMemberDef* member = (<PyMemberDescrObject*>descr).d_member
    if member.type != 16:  # T_OBJECT_EX: a PyObject* that may be NULL (unset)
        raise ImportError(f"{__name__}: Message.{name} is not an object slot")
    return member.offset


cdef Py_ssize_t _SID = _slot_offset("session_id")
cdef Py_ssize_t _BID = _slot_offset("buyer_id")
cdef Py_ssize_t _AT = _slot_offset("at")
cdef Py_ssize_t _SENDER = _slot_offset("sender")
cdef Py_ssize_t _MID = _slot_offset("message_id")
cdef Py_ssize_t _AGENT_ID = _slot_offset("agent_id")
cdef Py_ssize_t _SEQ = _slot_offset("seq")


cdef inline PyObject* _slot(object m, Py_ssize_t offset) noexcept:
    """The object in the slot at ``offset`` of exact Message ``m`` (borrowed; NULL if unset)."""
    return (<PyObject**>((<char*><PyObject*>m) + offset))[0]
