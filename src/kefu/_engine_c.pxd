# C layout of the compiled engine (see the theory of operation in _engine_c.pyx).

ctypedef long long i64
ctypedef unsigned long long u64


cdef struct Agent:
    i64 reg          # registration number, never reused (ties, ROUND_ROBIN order)
    i64 last_auto    # value of the `auto` counter at its last automatic assignment
    i64 pass_        # WEIGHTED stride-scheduling pass
    i64 gr_seq       # R27 grace timer seq; 0 = none
    double gr_deadline
    int limit        # load at which automatic assignment stops; -1 = UNLIMITED, 0 = SUSPENDED
    int weight
    int load         # R26: the sum of its open sessions' capacity weights
    int count        # open sessions in its reception list
    int head         # first session of its reception list (intrusive list), -1 if none
    int nslots       # slots[0] is ANY; then ALL, or 2 + gid for each group it serves
    int *slots
    int *pos         # its position in the index (side, slots[k]), per k
    bint online
    bint away        # R27: online, no automatic assignment
    bint indexed     # available and filed in its indexes
    bint key_online  # the side its heap entries are on (LEAST_LOAD, WEIGHTED)
    bint all_groups  # groups is None: serves every group
    bint in_use


cdef struct Sess:
    i64 arrival      # R07 tie-break, kept for life
    i64 ac_seq       # auto-close timer seq; 0 = none
    i64 fr_seq       # first-response timer seq while assigned; the pending R24 ladder
                     # step's while waiting (a session never has both); 0 = none
    double ac_deadline
    double fr_deadline
    double opened_at
    double first_unanswered
    double last_buyer
    int priority
    int group        # gid, or -1 for no group
    int agent        # agent slot, or -1 while waiting
    int pool         # 0 none, 1 queue, 2 offline
    int qpos         # position in its group's waiting heap
    int apos         # R28: position in its group's arrival heap, -1 if not in one
    int prev         # neighbours in its agent's reception list
    int next
    int tl           # R25: children in its group's rank treap (-1 = none)
    int tr
    int tsz          # R25: size of its subtree in that treap
    int weight       # R26: its capacity weight (1 without a kind)
    unsigned char has_first_unanswered  # flags as bytes: the record stays 128 bytes
    unsigned char has_timed_out
    unsigned char in_use


cdef struct SessEntry:
    # The session registry (Engine.st): an open-addressing table of the open sessions'
    # ids, keyed by the id's str hash, holding the session's slot (-1: empty entry).
    Py_hash_t hash
    int slot


cdef struct Timer:
    double deadline
    i64 seq
    int kind         # 0 auto close, 1 first response, 2 grace (R27), 3 ladder step (R24)
    int sess         # session slot; the agent slot for a grace timer


cdef struct IxEntry:
    # One agent's entry in an index. The heaps compare (k1, k2, reg) held here, not
    # read through the agent record: a sift touches only the entries it compares.
    i64 k1           # LEAST_LOAD: load; WEIGHTED: pass; ROUND_ROBIN: 0
    i64 k2           # LEAST_LOAD: last_auto; otherwise 0
    i64 reg
    int agent
    int k            # which of the agent's slots this entry is


cdef struct AgentIndex:
    # LEAST_LOAD / WEIGHTED: a 4-ary min-heap of agents by the strategy key.
    # ROUND_ROBIN: every agent of this (side, slot) sorted by reg, plus a bitset
    # of which positions are available.
    IxEntry *e
    u64 *bits
    int size
    int cap


cdef struct SessHeap:
    int *item
    int size
    int cap
    int busy         # its position in the list of non-empty waiting heaps, -1 while empty
    int root         # R25: root of the waiting sessions' rank treap, -1 while empty
    double *ho       # R25: ring of the line's latest hand-over times (NULL until one)
    int ho_n         # R25: how many the ring holds (at most MAX_SAMPLE)
    int ho_head      # R25: where the next one goes
