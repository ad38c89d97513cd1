"""The docs match the code: every Python block compiles and every name it imports exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PAGES = sorted(DOCS.glob("*.md"))


def _blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_there_are_documented_examples() -> None:
    assert sum(len(_blocks(p)) for p in PAGES) >= 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_compile_and_their_imports_exist(page: Path) -> None:
    for block in _blocks(page):
        # top-level await is fine in docs (it runs inside async code)
        tree = ast.parse(block, filename=str(page), feature_version=(3, 10),
                         type_comments=False) if "await " not in block else ast.parse(
            "async def _():\n" + "\n".join("    " + line for line in block.splitlines()))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if not node.module.startswith(("ratatosk", "ratatosk_twilio", "ratatosk_contrib")):
                    continue
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), (
                        f"{page.name}: {node.module} has no {alias.name}")


def test_mkdocs_nav_lists_every_page() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", nav, re.MULTILINE))
    assert listed == {p.name for p in PAGES}


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: every page in the nav, every internal link resolves."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=DOCS.parent, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "site" / "getting-started" / "index.html").exists()
