"""kefu (客服): route buyers' chat sessions to human agents, and measure the service.

``Assigner`` is a sans-IO state machine: commands in, events out, time from an
injected clock. ``kefu.kpi`` computes the KPIs shop platforms judge agents by.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kefu._columns import Command, EventColumns
from kefu.assigner import ENGINE, Assigner
from kefu.clock import Clock, ManualClock, SystemClock
from kefu.model import (
    AgentView,
    Cap,
    Config,
    LadderStep,
    QueueLimit,
    SessionState,
    SessionView,
    Strategy,
)

__all__ = [
    "ENGINE",
    "AgentView",
    "Assigner",
    "Cap",
    "Clock",
    "Command",
    "Config",
    "EventColumns",
    "LadderStep",
    "ManualClock",
    "QueueLimit",
    "SessionState",
    "SessionView",
    "Strategy",
    "SystemClock",
]

if TYPE_CHECKING:
    __version__: str
else:

    def __getattr__(name: str) -> str:
        """``kefu.__version__``, read from the package metadata on first use (kefu._version)."""
        if name == "__version__":
            from kefu._version import version

            return version()
        raise AttributeError(f"module 'kefu' has no attribute {name!r}")
