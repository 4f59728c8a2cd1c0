"""Which engine to use: the compiled one unless told otherwise or unavailable."""

from __future__ import annotations

import os
import platform

NO_EXTENSIONS = bool(os.environ.get("KEFU_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)
REQUIRE_EXTENSIONS = bool(os.environ.get("KEFU_REQUIRE_EXTENSIONS"))
