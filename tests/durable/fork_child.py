"""A process that leases a shop and then forks: the fork tests' "parent" (S07).

Usage: ``python fork_child.py TARGET MODE``. It opens the store at TARGET (as
``open_store`` takes it), leases shop "a", writes one entry and forks a child.

``MODE`` is what happens next:

- ``orphan``: the child sleeps (until its stdin closes); the parent prints
  ``child <pid>`` and ``ready`` and waits to be killed (the test kills it
  with SIGKILL while the child lives on).
- ``gc`` / ``exit``: the child drops every reference to the store, collects
  the garbage and ends by a normal interpreter exit (``gc``: finalisation
  runs) or by ``os._exit`` (``exit``). The parent waits for it, then writes
  again and checks that another store still gets ShopBusy; it prints
  ``ok <entries>`` or what went wrong.
"""

from __future__ import annotations

import gc
import os
import sys

from kefu.durable import Commit, JournalEntry, open_store
from kefu.errors import ShopBusy


def entry(seq: int) -> JournalEntry:
    return JournalEntry(seq, 10.0 + seq, f'["open_session",["s{seq}",null,null,0]]', None, None)


def main() -> None:
    target, mode = sys.argv[1], sys.argv[2]
    store = open_store(target)
    lease = store.lease("a")
    lease.commit(Commit("a", [entry(1)]))
    pid = os.fork()
    if pid == 0:
        if mode == "orphan":
            sys.stdin.read()  # until the test closes the pipe
            os._exit(0)
        del lease, store
        gc.collect()
        if mode == "exit":
            os._exit(0)
        sys.exit(0)  # a normal exit: the interpreter finalises what is left
    if mode == "orphan":
        print(f"child {pid}", flush=True)
        print("ready", flush=True)
        sys.stdin.read()
        return
    _, status = os.waitpid(pid, 0)
    if status != 0:
        print(f"child ended with status {status}", flush=True)
        return
    lease.commit(Commit("a", [entry(2)]))  # the parent's lease is still its own
    other = open_store(target)
    try:
        other.lease("a")
        print("second taker got the shop", flush=True)
        return
    except ShopBusy:
        pass
    finally:
        other.close()
    seqs = [e.seq for e in lease.read().entries]
    lease.release()
    store.close()
    print(f"ok {seqs}", flush=True)


if __name__ == "__main__":
    main()
