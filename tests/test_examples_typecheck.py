"""Every documented example type-checks with ``mypy --strict``.

The Python blocks of README.md and docs/*.md and every file in examples/ are written to a temporary
directory, one module each, and checked by ONE mypy run with the repository's configuration
(``[tool.mypy]`` in pyproject.toml: ``strict``, ``mypy_path``...).

A block is checked as it stands, with two helps a reader never sees, both HTML comments placed
right before the block's fence (a blank line between is allowed):

* ``<!-- typecheck: setup ... -->``: lines of Python checked before the block, for names the page
  introduced earlier or that the reader brings (``connector: Connector``, an import). They never
  change what the block itself says.
* ``<!-- typecheck: fragment: reason -->``: the block is not a complete program (an outline with
  elided names, a file excerpt). Keep these few; each says why.
* ``<!-- typecheck: module name -->``: the block is a whole module that later blocks import
  (``from name import ...`` in their setup); it is checked as ``name.py``.

A block with ``await``, ``async for`` or ``async with`` outside a function runs inside async code:
it is checked as the body of an ``async def``.

``EXPECTED_FAILURES`` lists the examples known to fail, each with the only kind of error it may
show. The test fails when one of them starts passing (remove it from the list) or shows any other
error, and when any other example fails.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# example id -> the only error it may show (a pattern). Kept empty: every example type-checks.
EXPECTED_FAILURES: dict[str, re.Pattern[str]] = {}

FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
DIRECTIVE = re.compile(r"<!--\s*typecheck:\s*(setup|fragment|module)\b(.*)-->", re.DOTALL)


@attrs.frozen
class Example:
    id: str  # "docs/page.md#3" (the page's third Python block) or "examples/name.py"
    source: str  # what mypy checks
    fragment: str | None = None  # why it is not checked, if it is not
    line_offset: int = 0  # lines of source before the example's first line
    module: str | None = None  # the module name later examples import it by


def _page_examples(page: Path, root: Path = ROOT) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(root).as_posix()
    examples = []
    for number, match in enumerate(FENCE.finditer(text), start=1):
        before = text[: match.start()].rstrip()
        # the HTML comment that ends right before the fence, if any
        comment = before[before.rfind("<!--"):] if before.endswith("-->") else ""
        directive = DIRECTIVE.fullmatch(comment)
        setup, fragment, module = "", None, None
        if directive is not None:
            kind, body = directive.group(1), directive.group(2)
            if kind == "fragment":
                fragment = body.strip(" :\n") or "(no reason given)"
            elif kind == "module":
                module = body.strip()
                assert module.isidentifier(), f"{name}#{number}: bad module name {module!r}"
            else:
                setup = textwrap.dedent(body).strip("\n") + "\n"
        example = _module(f"{name}#{number}", setup, match.group(1), fragment)
        examples.append(attrs.evolve(example, module=module))
    return examples


def _top_level_async(tree: ast.AST) -> bool:
    """Whether the code awaits outside any function (so it runs inside async code)."""
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
            return True
        if isinstance(node, ast.comprehension) and node.is_async:
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return False


def _module(example_id: str, setup: str, code: str, fragment: str | None) -> Example:
    body = setup + code
    if _top_level_async(ast.parse(body)):
        future = [ln for ln in body.splitlines() if ln.startswith("from __future__")]
        rest = "\n".join(ln for ln in body.splitlines() if not ln.startswith("from __future__"))
        header = "\n".join(future) + ("\n" if future else "")
        body = header + "async def _example() -> None:\n" + textwrap.indent(rest, "    ") + "\n"
        offset = len(header.splitlines()) + 1 + len(setup.splitlines()) - len(
            [ln for ln in setup.splitlines() if ln.startswith("from __future__")])
    else:
        offset = len(setup.splitlines())
    return Example(example_id, body, fragment, offset)


def _examples() -> list[Example]:
    found = [e for page in PAGES for e in _page_examples(page)]
    for path in EXAMPLES:
        found.append(Example(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return found


def _module_name(example_id: str) -> str:
    return "ex_" + re.sub(r"\W", "_", example_id)


def _run_mypy(examples: list[Example], workdir: Path) -> dict[str, list[str]]:
    """Type-check every example in one mypy run; example id -> its errors."""
    snippets = workdir / "snippets"
    snippets.mkdir(parents=True)
    by_file: dict[str, Example] = {}
    for example in examples:
        if example.id.startswith("examples/"):
            # examples import each other (``from _run import run``): keep their own names
            path = snippets / Path(example.id).name
        elif example.module is not None:
            path = snippets / f"{example.module}.py"
        else:
            path = snippets / f"{_module_name(example.id)}.py"
        path.write_text(example.source, encoding="utf-8")
        by_file[path.name] = example
    config = ROOT / "pyproject.toml"
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--strict",
         "--cache-dir", str(workdir / "cache"), "--no-error-summary", "--show-error-codes",
         "--hide-error-context", "--no-pretty", "--no-color-output", str(snippets)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"MYPYPATH": str(snippets), **_environ()},
    )
    errors: dict[str, list[str]] = {e.id: [] for e in examples}
    line = re.compile(r"^(?:.*[/\\])?([^/\\:]+\.py):(\d+): (error|note): (.*)$")
    unknown = []
    for output in run.stdout.splitlines():
        match = line.match(output)
        if match is None or match.group(1) not in by_file:
            if output.strip():
                unknown.append(output)
            continue
        if match.group(3) != "error":
            continue
        example = by_file[match.group(1)]
        number = int(match.group(2)) - example.line_offset
        errors[example.id].append(f"line {number}: {match.group(4)}")
    assert not unknown, "mypy said something about files other than the examples:\n" + "\n".join(
        unknown) + run.stderr
    assert run.returncode in (0, 1), run.stderr
    return errors


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "MYPYPATH"}


def _problems(
    checked: list[Example], errors: dict[str, list[str]],
    expected_failures: dict[str, re.Pattern[str]],
) -> list[str]:
    problems = []
    for example in checked:
        found = errors[example.id]
        expected = expected_failures.get(example.id)
        if expected is None:
            if found:
                problems.append(f"{example.id} fails mypy --strict:\n    " + "\n    ".join(found))
        elif not found:
            problems.append(f"{example.id} passes now: remove it from EXPECTED_FAILURES")
        else:
            other = [e for e in found if not expected.search(e)]
            if other:
                problems.append(f"{example.id} fails for another reason than expected:\n    "
                                + "\n    ".join(other))
    return problems


@pytest.mark.slow
def test_every_documented_example_passes_mypy_strict(tmp_path: Path) -> None:
    checked = [e for e in _examples() if e.fragment is None]
    errors = _run_mypy(checked, tmp_path)
    problems = _problems(checked, errors, EXPECTED_FAILURES)
    assert not problems, "\n".join(problems)


def test_the_examples_are_found_and_fragments_stay_few() -> None:
    examples = _examples()
    ids = {e.id for e in examples}
    assert "README.md#1" in ids and "examples/five_lines.py" in ids
    assert sum(e.id.startswith("docs/") for e in examples) >= 20
    fragments = [e for e in examples if e.fragment is not None]
    assert len(fragments) <= 6, [f"{e.id}: {e.fragment}" for e in fragments]
    assert all(e.fragment and e.fragment != "(no reason given)" for e in fragments)
    assert set(EXPECTED_FAILURES) <= {e.id for e in examples if e.fragment is None}


def test_setup_and_await_wrapping(tmp_path: Path) -> None:
    """The harness itself: setup lines come first, top-level await runs in an async def, errors
    are reported on the example's own lines, and a wrong example is caught."""
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent('''\
        <!-- typecheck: setup
        from ratatosk import Connector, Message
        connector: Connector
        -->

        ```python
        result = await connector.send_message(Message.text("Hi", to="+15550002222"))
        print(result.is_success)
        ```

        <!-- typecheck: fragment: an outline -->
        ```python
        undefined_name
        ```

        ```python
        from ratatosk import Message
        Message.text("Hi", too="+15550002222")
        ```
        '''), encoding="utf-8")
    examples = _page_examples(page, tmp_path)
    first, second, third = examples
    assert first.fragment is None and "async def _example() -> None:" in first.source
    assert second.fragment == "an outline"
    errors = _run_mypy([first, third], tmp_path / "run")
    assert errors["page.md#1"] == []
    assert len(errors["page.md#3"]) == 1
    assert errors["page.md#3"][0].startswith('line 2: Unexpected keyword argument "too"')

    # the expected-failure list stays honest: a listed example that passes is a problem, and so
    # is a listed one that fails for another reason
    none_error = ('line 3: Item "None" of "SendResult | None" has no attribute "status"'
                  "  [union-attr]")
    may_be_none = re.compile(
        r'Item "None" of "[^"]+ \| None" has no attribute "\w+"  \[union-attr\]$')
    assert may_be_none.search(none_error)
    listed = {"page.md#1": may_be_none, "page.md#3": may_be_none}
    problems = _problems([first, third], errors, listed)
    assert len(problems) == 2
    assert "page.md#1 passes now: remove it from EXPECTED_FAILURES" in problems
    assert problems[1].startswith("page.md#3 fails for another reason than expected")
    assert _problems([first, third], {**errors, "page.md#3": [none_error]}, listed) == [
        "page.md#1 passes now: remove it from EXPECTED_FAILURES"]
