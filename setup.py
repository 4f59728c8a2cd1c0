"""Build logic for kefu: the optional Cython extensions.

``kefu._engine_c`` (the Assigner's compiled engine) and ``kefu.kpi._kernel_c``
(the KPI message pass) are built when their sources exist, Cython is
importable and a compiler works. Environment switches:

* ``KEFU_NO_EXTENSIONS=1``  -- build nothing; a pure-Python install.
* ``KEFU_REQUIRE_EXTENSIONS=1`` -- a missing source or a failed compile fails
  the install instead of falling back silently (CI uses this).

Reusing a build. pip builds in a fresh, isolated environment every time
(new temporary build directories, a freshly installed Cython whose own
``.pxd`` files are newer than anything generated before), so neither
cythonize's timestamp checks nor the compiler's object files survive from
one ``pip install`` to the next: ``pip install -e .`` followed by
``pip install -e ".[test]"`` would compile both extensions twice (about a
minute on a small machine). Instead, each compiled module is kept in
``build/kefu-ext-cache/`` in the source tree under a fingerprint of
everything that goes into it (:func:`fingerprint`): the contents of its
``.pyx`` and of every ``.pxd``/``.pxi`` in the package, this file (compiler
directives and flags), the Cython version, the Python version, ABI and
platform, and the compiler environment variables. A build whose fingerprint
is cached copies that module (no Cython, no compiler); any other builds it
and caches the result. Contents, not timestamps, decide, so a changed
``.pyx`` is always rebuilt (also when a checkout gives it an old mtime),
and a module built from other sources or for another Python is never used.
A cached module is written whole (to a temporary name, then renamed), so an
interrupted build leaves no half file behind; older fingerprints of the
same module are deleted. Delete ``build/`` to force a rebuild.

Progress. pip shows a build's output only with ``-v`` or when it fails, so
the few progress lines below ("compiling ..., about 30 s", "reused ...") go
to the terminal (``/dev/tty``) when there is one, else to stderr.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "src" / "kefu"
SOURCES = {
    "kefu._engine_c": PACKAGE / "_engine_c.pyx",
    "kefu.kpi._kernel_c": PACKAGE / "kpi" / "_kernel_c.pyx",
    "kefu.kpi._live_c": PACKAGE / "kpi" / "_live_c.pyx",
}
CACHE = HERE / "build" / "kefu-ext-cache"
DIRECTIVES = {"language_level": 3, "boundscheck": False, "wraparound": False}
#: Environment variables the compiler and linker read (distutils' and the usual ones).
COMPILER_ENV = ("CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "LDSHARED", "ARCHFLAGS")
NO_EXTENSIONS = bool(os.environ.get("KEFU_NO_EXTENSIONS"))
REQUIRE = bool(os.environ.get("KEFU_REQUIRE_EXTENSIONS"))


def say(message: str) -> None:
    """One progress line the user sees even though pip hides the build's output."""
    line = f"kefu build: {message}\n"
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(line)
    except OSError:  # no terminal (CI, a pipe): pip -v and pip's logs show stderr
        sys.stderr.write(line)
        sys.stderr.flush()


def fingerprint(pyx: Path, cython_version: str, setup_py: Path = Path(__file__)) -> str:
    """SHA-256 over everything a compiled module depends on. O(size of the sources)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("pyx", pyx.read_bytes())
    for dep in sorted(PACKAGE.rglob("*.px[di]")):
        add(f"dep {dep.relative_to(PACKAGE).as_posix()}", dep.read_bytes())
    add("setup.py", Path(setup_py).read_bytes())
    add("cython", cython_version.encode())
    add("python", f"{sys.version} {sys.implementation.cache_tag}".encode())
    add("platform", f"{sysconfig.get_platform()} {sysconfig.get_config_var('EXT_SUFFIX')}".encode())
    for name in COMPILER_ENV:
        add(f"env {name}", os.environ.get(name, "\0unset").encode())
    for name in ("CC", "CXX", "CFLAGS", "LDSHARED"):
        add(f"config {name}", str(sysconfig.get_config_var(name)).encode())
    return digest.hexdigest()[:32]


def cached_module(name: str, key: str) -> Path:
    """Where the module ``name`` built with fingerprint ``key`` is kept."""
    return CACHE / f"{name}-{key}{sysconfig.get_config_var('EXT_SUFFIX')}"


class CachedBuildExt(build_ext):  # type: ignore[misc]
    """build_ext that copies a cached module when its fingerprint matches (see module doc).

    Cython runs here, for a module about to be compiled, not when setup.py
    is loaded: pip loads it three times per install.
    """

    def build_extension(self, ext: Any) -> None:
        import Cython
        from Cython.Build import cythonize

        target = Path(self.get_ext_fullpath(ext.name))
        pyx = SOURCES[ext.name]
        cached = cached_module(ext.name, fingerprint(pyx, Cython.__version__))
        if cached.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(cached, target)
            say(f"{ext.name}: sources unchanged, reused {cached.relative_to(HERE)}")
            return
        say(f"{ext.name}: compiling (Cython, then the C compiler) ...")
        started = time.monotonic()
        # force: the fingerprint, not cythonize's timestamps, decides what is stale.
        (translated,) = cythonize([Extension(ext.name, [str(pyx.relative_to(HERE))])],
                                  compiler_directives=DIRECTIVES, force=True, quiet=True)
        for field, value in vars(translated).items():  # .c sources, language (c++) ...
            if field != "optional" and not field.startswith("_"):
                setattr(ext, field, value)
        super().build_extension(ext)
        say(f"{ext.name}: compiled in {time.monotonic() - started:.0f} s")
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob(f"{ext.name}-*{sysconfig.get_config_var('EXT_SUFFIX')}"):
            old.unlink()
        partial = cached.with_name(f".{cached.name}.{os.getpid()}")
        shutil.copy2(target, partial)
        partial.replace(cached)


def extensions() -> list[Extension]:
    """The extensions to build (CachedBuildExt compiles or reuses each)."""
    if NO_EXTENSIONS:
        if REQUIRE:
            raise SystemExit("KEFU_NO_EXTENSIONS and KEFU_REQUIRE_EXTENSIONS are both set")
        return []
    missing = [str(p) for p in SOURCES.values() if not p.exists()]
    if missing and REQUIRE:
        raise SystemExit(f"KEFU_REQUIRE_EXTENSIONS is set but {missing} do not exist")
    try:
        import Cython.Build  # noqa: F401  (compiled in CachedBuildExt)
    except ImportError:
        if REQUIRE:
            raise
        return []
    return [Extension(name, [str(pyx.relative_to(HERE))], optional=not REQUIRE)
            for name, pyx in SOURCES.items() if pyx.exists()]


if __name__ == "__main__":  # also under pip: setuptools runs this file as __main__
    setup(ext_modules=extensions(), cmdclass={"build_ext": CachedBuildExt})
