"""docs/integration.md runs as written: its doctests pass, its code is the example's code."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integration.md"
EXAMPLE = ROOT / "examples" / "backend.py"


def test_S08_integration_guide_doctests_pass() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False, verbose=False)
    assert result.attempted >= 14
    assert result.failed == 0


def test_S08_integration_guide_python_blocks_are_excerpts_of_the_example() -> None:
    blocks = re.findall(r"```python3\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    example = EXAMPLE.read_text()
    assert len(blocks) >= 5
    for block in blocks:
        assert block in example, block
