"""Whether to use compiled extensions: yes unless told otherwise or unavailable.

The Assigner's engine and the KPI kernel both load theirs through
:func:`load_compiled`, so the two environment switches mean the same for each.
"""

from __future__ import annotations

import importlib
import os
import platform
from types import ModuleType

NO_EXTENSIONS = bool(os.environ.get("KEFU_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)
REQUIRE_EXTENSIONS = bool(os.environ.get("KEFU_REQUIRE_EXTENSIONS"))


def load_compiled(module: str, what: str) -> ModuleType | None:
    """The compiled ``module``, or None when KEFU_NO_EXTENSIONS is set or it was not
    built; under KEFU_REQUIRE_EXTENSIONS a missing one is an ImportError naming ``what``."""
    if NO_EXTENSIONS:
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise ImportError(f"KEFU_REQUIRE_EXTENSIONS is set but {what} {module} "
                              "did not import") from None
        return None
