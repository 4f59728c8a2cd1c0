"""Every code sample in the docs runs: one doctest per Markdown page.

Pages are found, not listed: README.md and every ``*.md`` under docs/ (the
built site excluded), so a new page is covered the day it is added. On a
page:

* a `````python`` block with ``>>>`` prompts is a doctest: its outputs are
  checked;
* a `````python`` block without prompts is a script: it must run, and print
  nothing;
* every fence names its language (`````sh`` for commands, `````text`` for
  output and formats), so nothing meant to run is skipped by accident; a
  MyST directive (`````{automodule}``) is not code;
* a ``>>>`` prompt outside a `````python`` block is an error, for the same
  reason;
* a `````python3`` block is an excerpt of a file that runs elsewhere in the
  suite (the integration guide quotes ``examples/backend.py``, and its own
  test checks each excerpt is in that file): it is not run here.

The blocks of one page share one namespace, in page order, as a reader
typing them into one interpreter would.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = {"python", "py", "pycon"}
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


class Block(NamedTuple):
    """One fenced block: its language (the info string's first word) and text."""

    lang: str
    text: str
    line: int  # 0-based line of the block's first text line


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, except the built site."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *docs]


def split_page(text: str) -> tuple[list[Block], list[tuple[int, str]]]:
    """The page's fenced blocks, and its lines outside any fence. O(lines)."""
    blocks: list[Block] = []
    outside: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if opened is None:
            outside.append((i, lines[i]))
            i += 1
            continue
        fence, indent = opened["fence"], opened["indent"]
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            body.append(lines[i].removeprefix(indent))
            i += 1
        info = opened["info"].strip()
        blocks.append(Block(info.split()[0] if info else "", "\n".join(body) + "\n",
                            i - len(body)))
        i += 1
    return blocks, outside


def page_doctest(path: Path) -> doctest.DocTest:
    """The page's python blocks as one doctest, each example at its line in the page."""
    blocks, _ = split_page(path.read_text(encoding="utf-8"))
    parser = doctest.DocTestParser()
    examples: list[doctest.Example] = []
    for block in blocks:
        if block.lang not in PYTHON:
            continue
        if ">>>" in block.text:
            found = parser.get_examples(block.text, name=str(path))
            for example in found:
                example.lineno += block.line
        else:
            script = f"exec(compile({block.text!r}, {str(path)!r}, 'exec'))\n"
            found = [doctest.Example(script, "", lineno=block.line)]
        examples.extend(found)
    return doctest.DocTest(examples, {"__name__": "__docs__"}, path.name, str(path), 0, None)


def run(test: doctest.DocTest) -> tuple[doctest.TestResults, str]:
    """Run one page's doctest; the results and the failure report."""
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=report.append, clear_globs=True)
    return doctest.TestResults(runner.failures, runner.tries), "".join(report)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", pages(), ids=_rel)
def test_every_sample_on_the_page_runs(page: Path) -> None:
    blocks, outside = split_page(page.read_text(encoding="utf-8"))
    unlabeled = [b.line for b in blocks if not b.lang]
    assert not unlabeled, f"{_rel(page)}: fences without a language at lines {unlabeled}"
    stray = [n + 1 for n, line in outside if line.lstrip().startswith(">>>")]
    assert not stray, f"{_rel(page)}: '>>>' outside a python block at lines {stray}"
    results, report = run(page_doctest(page))
    assert results.failed == 0, report


def test_the_pages_with_samples_are_found() -> None:
    names = {_rel(p) for p in pages()}
    assert {"README.md", "docs/kpi.md", "docs/semantics.md"} <= names
    assert not any("_build" in n for n in names)
    assert page_doctest(ROOT / "README.md").examples
    assert len(page_doctest(ROOT / "docs" / "kpi.md").examples) >= 10


_PAGE = """# A page

```sh
echo not run
```

Some text.

```python
>>> x = 2
>>> x + 1
{want}

```

- a list

  ```python
  y = x * 10
  ```

```python
>>> y
20

```
"""


@pytest.mark.parametrize(("want", "failed"), [("3", 0), ("4", 1)])
def test_the_runner_checks_outputs_and_shares_one_namespace(tmp_path: Path, want: str,
                                                            failed: int) -> None:
    page = tmp_path / "page.md"
    page.write_text(_PAGE.format(want=want))
    test = page_doctest(page)
    assert len(test.examples) == 4
    results, report = run(test)
    assert (results.attempted, results.failed) == (4, failed)
    if failed:
        assert f'File "{page}", line 11' in report


@pytest.mark.parametrize("script", ["print('hello')", "raise ValueError('boom')"])
def test_a_script_block_fails_when_it_prints_or_raises(tmp_path: Path, script: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"```python\nimport math\n{script}\n```\n")
    results, _ = run(page_doctest(page))
    assert (results.attempted, results.failed) == (1, 1)
    page.write_text("```python\nimport math\nassert math.pi > 3\n```\n")
    assert run(page_doctest(page))[0].failed == 0


def test_unlabeled_fences_and_stray_prompts_are_found() -> None:
    blocks, outside = split_page("```\nx\n```\n>>> 1 + 1\n````text\n```\n````\n")
    assert [(b.lang, b.text) for b in blocks] == [("", "x\n"), ("text", "```\n")]
    assert [line for _n, line in outside] == [">>> 1 + 1"]
