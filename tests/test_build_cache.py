"""setup.py's build cache: a compiled module is reused only for the very same inputs.

The reuse itself (a second ``pip install`` compiles nothing) is checked by
.ci/run on real installs; here, cheaply, that every input that goes into a
module changes its fingerprint, so a changed source is never served a stale
build.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("setuptools")


@pytest.fixture
def setup_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """setup.py loaded as a module (it builds nothing unless run as __main__), over a copy."""
    spec = importlib.util.spec_from_file_location("kefu_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    package = tmp_path / "src" / "kefu"
    shutil.copytree(ROOT / "src" / "kefu", package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.cpp"))
    monkeypatch.setattr(module, "PACKAGE", package)
    return module


def _key(setup_py: ModuleType, cython: str = "3.0.0") -> str:
    pyx = setup_py.PACKAGE / "_engine_c.pyx"
    return str(setup_py.fingerprint(pyx, cython, ROOT / "setup.py"))


def test_same_inputs_same_fingerprint(setup_py: ModuleType) -> None:
    assert _key(setup_py) == _key(setup_py)
    kernel = setup_py.fingerprint(setup_py.PACKAGE / "kpi" / "_kernel_c.pyx", "3.0.0")
    assert kernel != _key(setup_py)


@pytest.mark.parametrize("changed", ["_engine_c.pyx", "_engine_c.pxd", "kpi/_kernel_c.pyx"])
def test_a_changed_source_changes_the_fingerprint(setup_py: ModuleType, changed: str) -> None:
    """The kernel's .pyx is not an input of the engine: only .pxd files are shared."""
    before = _key(setup_py)
    path = setup_py.PACKAGE / changed
    path.write_text(path.read_text() + "\n# one more line\n")
    after = _key(setup_py)
    assert (after != before) == (changed != "kpi/_kernel_c.pyx")


def test_a_new_pxd_anywhere_in_the_package_changes_the_fingerprint(setup_py: ModuleType) -> None:
    before = _key(setup_py)
    (setup_py.PACKAGE / "kpi" / "_shared.pxd").write_text("cdef int x\n")
    assert _key(setup_py) != before


def test_cython_version_and_compiler_flags_change_the_fingerprint(
        setup_py: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _key(setup_py)
    assert _key(setup_py, cython="3.0.1") != before
    monkeypatch.setenv("CFLAGS", "-O0")
    assert _key(setup_py) != before


def test_cached_modules_are_named_for_this_python(setup_py: ModuleType) -> None:
    import sysconfig

    path = setup_py.cached_module("kefu._engine_c", "abc")
    assert path.name == f"kefu._engine_c-abc{sysconfig.get_config_var('EXT_SUFFIX')}"
    assert path.parent == ROOT / "build" / "kefu-ext-cache"
