"""The installed version of kefu, with one source of truth: pyproject.toml.

An installed kefu (pip, editable or not) reads its version from the package
metadata that pip wrote from pyproject.toml. A source tree on ``sys.path``
without metadata (e.g. ``PYTHONPATH=src``) reads the ``version = "..."`` line
of the pyproject.toml beside it, and ``0+unknown`` when there is none.

Cost: one metadata lookup (a scan of ``sys.path``, about 30 ms), paid on first
use only and then cached, so ``import kefu`` does not pay it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata
from pathlib import Path

__all__ = ["UNKNOWN", "version"]

#: What :func:`version` returns when neither metadata nor pyproject.toml exist.
UNKNOWN = "0+unknown"

_PYPROJECT = Path(__file__).resolve().parent.parent.parent / "pyproject.toml"
_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"\s*$', re.MULTILINE)
_KEFU_LINE = re.compile(r'^name\s*=\s*"kefu"\s*$', re.MULTILINE)


def from_pyproject(path: Path = _PYPROJECT) -> str | None:
    """The version in ``path``'s ``[project]`` table if that project is kefu, else None."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    project = text.partition("[project]")[2].split("\n[", 1)[0]
    found = _VERSION_LINE.search(project)
    return found.group(1) if found and _KEFU_LINE.search(project) else None


@cache
def version() -> str:
    """kefu's version: package metadata, else the source tree's pyproject.toml."""
    try:
        return metadata.version("kefu")
    except metadata.PackageNotFoundError:
        return from_pyproject() or UNKNOWN
