"""``kefu --version`` / ``python -m kefu --version``: one version, pyproject.toml's."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

import kefu
from kefu import _version

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_version() -> str:
    found = _version.from_pyproject(ROOT / "pyproject.toml")
    assert found is not None
    return found


def test_version_is_the_installed_metadata_and_pyproject_version() -> None:
    assert kefu.__version__ == metadata.version("kefu") == _pyproject_version()


def test_python_m_kefu_version_prints_it() -> None:
    proc = subprocess.run([sys.executable, "-m", "kefu", "--version"], capture_output=True,
                          text=True, check=True)
    assert proc.stdout == f"kefu {_pyproject_version()}\n"


def test_kefu_console_script_is_installed_and_prints_the_version() -> None:
    (entry,) = metadata.entry_points(group="console_scripts", name="kefu")
    assert entry.value == "kefu.__main__:script"
    script = shutil.which("kefu", path=sysconfig.get_path("scripts"))
    assert script is not None, "the kefu console script is not installed next to python"
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout == f"kefu {_pyproject_version()}\n"
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert helped.stdout.startswith("usage: kefu ")


def test_version_only_needs_no_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "kefu"], capture_output=True, text=True)
    assert proc.returncode == 2 and "COMMAND" in proc.stderr


def test_unknown_module_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        kefu.nonsense  # type: ignore[attr-defined]  # noqa: B018


def test_from_pyproject_reads_kefus_project_table_only(tmp_path: Path) -> None:
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.other]\nversion = "1.0"\n\n[project]\nname = "kefu"\n'
                    'version = "2.3.4"\n\n[tool.x]\nversion = "5.0"\n')
    assert _version.from_pyproject(toml) == "2.3.4"
    toml.write_text('[project]\nname = "kefu"\n\n[tool.x]\nversion = "5.0"\n')
    assert _version.from_pyproject(toml) is None
    toml.write_text('[project]\nname = "other"\nversion = "2.3.4"\n')
    assert _version.from_pyproject(toml) is None
    assert _version.from_pyproject(tmp_path / "missing.toml") is None


_WITHOUT_METADATA = """
import sys
import kefu
src = sys.argv[1]
stdlib = [p for p in sys.path if p.startswith(sys.base_prefix) and "-packages" not in p]
sys.path[:] = [src, *stdlib]
print(kefu.__file__)
print(kefu.__version__)
"""


@pytest.mark.parametrize("pyproject", [True, False])
def test_source_tree_without_metadata_falls_back(tmp_path: Path, pyproject: bool) -> None:
    """A copy of the source on PYTHONPATH, with no installed metadata left on sys.path."""
    shutil.copytree(ROOT / "src" / "kefu", tmp_path / "src" / "kefu",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if pyproject:
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "kefu"\nversion = "9.8.7"\n')
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_METADATA, str(tmp_path / "src")],
                          capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(tmp_path / "src"), "KEFU_NO_EXTENSIONS": "1"})
    where, version = proc.stdout.splitlines()
    assert Path(where).is_relative_to(tmp_path)
    assert version == ("9.8.7" if pyproject else _version.UNKNOWN)
