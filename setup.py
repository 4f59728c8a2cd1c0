"""Build logic for kefu: the optional Cython extensions.

``kefu._engine_c`` (the Assigner's compiled engine) and ``kefu.kpi._kernel_c``
(the KPI message pass) are built when their sources exist, Cython is
importable and a compiler works. Environment switches:

* ``KEFU_NO_EXTENSIONS=1``  -- build nothing; a pure-Python install.
* ``KEFU_REQUIRE_EXTENSIONS=1`` -- a missing source or a failed compile fails
  the install instead of falling back silently (CI uses this).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
SOURCES = {
    "kefu._engine_c": HERE / "src" / "kefu" / "_engine_c.pyx",
    "kefu.kpi._kernel_c": HERE / "src" / "kefu" / "kpi" / "_kernel_c.pyx",
}
NO_EXTENSIONS = bool(os.environ.get("KEFU_NO_EXTENSIONS"))
REQUIRE = bool(os.environ.get("KEFU_REQUIRE_EXTENSIONS"))


def extensions() -> list[object]:
    if NO_EXTENSIONS:
        if REQUIRE:
            raise SystemExit("KEFU_NO_EXTENSIONS and KEFU_REQUIRE_EXTENSIONS are both set")
        return []
    missing = [str(p) for p in SOURCES.values() if not p.exists()]
    if missing and REQUIRE:
        raise SystemExit(f"KEFU_REQUIRE_EXTENSIONS is set but {missing} do not exist")
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        if REQUIRE:
            raise
        return []
    exts = [Extension(name, [str(pyx.relative_to(HERE))], optional=not REQUIRE)
            for name, pyx in SOURCES.items() if pyx.exists()]
    if not exts:
        return []
    built = cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
        },
    )
    # cythonize() returns fresh Extension objects without ``optional``.
    for e in built:
        e.optional = not REQUIRE
    return list(built)


setup(ext_modules=extensions())
