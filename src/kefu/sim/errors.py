"""The one error the simulator raises for bad input, so the command line can print it cleanly."""

from __future__ import annotations

from kefu.errors import InvalidArgument

__all__ = ["SimConfigError"]


class SimConfigError(InvalidArgument):
    """A workload, shop plan or profile that cannot be simulated; the message says why."""
