"""A one-line progress bar on stderr, drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Redraws ``label [#####.....] 45% 10:48  12,345 sessions`` at most ten times a second.

    Disabled (every call a no-op) unless ``enabled`` and the stream is a TTY,
    so pipes, files and CI logs stay clean.
    """

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled and bool(isatty and isatty())
        self.label = label
        self._last = 0.0
        self._shown = False

    def __call__(self, done: float, seconds: float, sessions: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < 1.0:
            return
        self._last = now
        filled = int(self.WIDTH * done)
        minute = int(seconds // 60)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * done:3.0f}% "
            f"{minute // 60:02d}:{minute % 60:02d}  {sessions:,} sessions  "
        )
        self.stream.flush()
        self._shown = True

    def status(self, text: str) -> None:
        """Replace the bar with a short status (e.g. the next phase), on a TTY only."""
        if not self.enabled:
            return
        self.stream.write(f"\r\x1b[2K{text}")
        self.stream.flush()
        self._shown = True

    def note(self, text: str) -> None:
        """A line of its own (e.g. one staffing level decided), on a TTY only."""
        if not self.enabled:
            return
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar so the report starts on a clean line."""
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False
