"""Meta-tests: every hook is documented and tested; every error code is raised and tested.

In the manner of datasette's ``test_docs.py``: the checks read the source tree, so adding a hook
without documenting it, or an error code that nothing raises, fails here by name. A failing
``test_error_code_is_raised[...]`` means the code should be raised where its name says, or deleted.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ratatosk import ConnectorErrorCodes, MessagingErrorCodes, hookspecs

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_DOC = ROOT / "docs" / "plugins.md"
THIS_FILE = Path(__file__).resolve()


def _hookspecs() -> dict[str, Callable[..., Any]]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {name: function for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(function, marker)}


HOOKS = sorted(_hookspecs())
CODES = [(cls.__name__, code) for cls in (MessagingErrorCodes, ConnectorErrorCodes)
         for code in cls.all_codes()]


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _source_files() -> list[Path]:
    """Shipped code that may raise an error code: core (without the test kit and the
    definitions themselves), the providers and contrib."""
    roots = [ROOT / "core" / "src", *sorted((ROOT / "providers").glob("*/src")),
             ROOT / "contrib" / "src"]
    errors = ROOT / "core" / "src" / "ratatosk" / "_errors.py"
    kit = ROOT / "core" / "src" / "ratatosk" / "testing"
    return [path for root in roots for path in sorted(root.rglob("*.py"))
            if path != errors and kit not in path.parents]


def _test_files() -> list[Path]:
    return [path for path in sorted((ROOT / "tests").rglob("*.py"))
            if path.resolve() != THIS_FILE and "plugins" not in path.relative_to(ROOT).parts[1:2]]


def _mentions(name: str, files: list[Path]) -> list[Path]:
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    return [path for path in files if pattern.search(_read(path))]


def test_there_are_hooks_and_codes() -> None:
    assert {"ratatosk_register_connectors", "ratatosk_register_commands"} <= set(HOOKS)
    assert ("MessagingErrorCodes", "CONNECTOR_NOT_FOUND") in CODES
    assert ("ConnectorErrorCodes", "CAPABILITY_NOT_SUPPORTED") in CODES


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_has_a_one_line_docstring(hook: str) -> None:
    doc = inspect.getdoc(_hookspecs()[hook])
    assert doc, f"{hook} has no docstring"
    assert "\n" not in doc.strip(), f"{hook}'s docstring is more than one line"


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_is_documented(hook: str) -> None:
    text = _read(PLUGINS_DOC)
    heading = re.search(rf"^#+ .*\b{hook}\b", text, re.MULTILINE)
    code = f"`{hook}" in text
    assert heading or code, f"{hook} is not documented in docs/plugins.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_is_tested(hook: str) -> None:
    tested_in = _mentions(hook, _test_files())
    assert tested_in, f"no test under tests/ uses {hook}"


@pytest.mark.parametrize(("codes", "code"), CODES, ids=[code for _, code in CODES])
def test_error_code_is_raised(codes: str, code: str) -> None:
    raised_in = _mentions(code, _source_files())
    assert raised_in, (
        f"{codes}.{code} is defined but nothing in core/src, providers/*/src or contrib/src "
        "returns it: raise it where its name says, or delete it")


@pytest.mark.parametrize(("codes", "code"), CODES, ids=[code for _, code in CODES])
def test_error_code_is_tested(codes: str, code: str) -> None:
    tested_in = _mentions(code, _test_files())
    assert tested_in, f"no test under tests/ checks {codes}.{code}"
