"""An asyncio host for many durable shops in one process (S08).

:class:`Host` opens (recovers) each shop on first use, runs its commands
with one writer, writes many callers' and many shops' commands per store
transaction (group commit), answers a call only once its command is
durable, fires each shop's timers at its ``next_deadline()`` and pushes
durable events to subscribers, in order. asyncio only: no web framework.
See the integration guide (``docs/integration.md``).
"""

from __future__ import annotations

from kefu.host._subscription import Subscription
from kefu.host.host import QUERIES, Host

__all__ = ["QUERIES", "Host", "Subscription"]
