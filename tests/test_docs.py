"""The docs match the code: every Python block compiles and every name it imports exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

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
    listed = set(re.findall(r":\s*([\w/-]+\.md)\s*$", nav, re.MULTILINE))
    assert listed == {p.relative_to(DOCS).as_posix() for p in DOCS.glob("**/*.md")}


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
    # the API reference is generated from the docstrings of every public name
    api = tmp_path / "site" / "api"
    for module, page in API_PAGES.items():
        html = (api / page / "index.html").read_text(encoding="utf-8")
        namespace = importlib.import_module(module)
        public = [n for n in getattr(namespace, "__all__", [
            n for n in vars(namespace) if n.startswith("ratatosk_")])  # hookspecs: the hooks
            if n != "__version__"]
        for name in public:
            assert f'id="{module}.{name}"' in html, f"{name} is missing from api/{page}"
    html = (api / "ratatosk" / "index.html").read_text(encoding="utf-8")
    assert "The JSON Schema (draft 2020-12)" in html  # a docstring, rendered
    assert ":meth:" not in html and ":class:" not in html  # Sphinx roles are rewritten


# -- API reference and error codes ----------------------------------------------------------

API_PAGES = {"ratatosk": "ratatosk", "ratatosk.testing": "testing",
             "ratatosk.hookspecs": "hookspecs", "ratatosk_twilio": "twilio",
             "ratatosk_contrib": "contrib"}
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.MULTILINE)


def test_api_pages_document_public_names_only() -> None:
    for module, page in API_PAGES.items():
        text = (DOCS / "api" / f"{page}.md").read_text(encoding="utf-8")
        targets = DIRECTIVE.findall(text)
        assert targets, f"api/{page}.md has no ::: directive"
        for target in targets:
            assert target.startswith(module), f"api/{page}.md documents {target}"
            assert not any(part.startswith("_") for part in target.split(".")), (
                f"api/{page}.md points at a private path: {target}")
    # ratatosk's namespace is lazy: each public name has its own directive
    text = (DOCS / "api" / "ratatosk.md").read_text(encoding="utf-8")
    documented = {t.removeprefix("ratatosk.") for t in DIRECTIVE.findall(text)}
    import ratatosk

    public = set(ratatosk.__all__) - {"__version__"}
    assert documented == public, (
        f"not in docs/api/ratatosk.md: {sorted(public - documented)}; "
        f"no longer public: {sorted(documented - public)}")


def _codes(code_set: Any) -> list[str]:
    if hasattr(code_set, "all_codes"):
        return list(code_set.all_codes())
    return [str(member.value) for member in code_set]  # an enum


def _error_sections() -> dict[str, set[str]]:
    """Domain -> the codes listed in that section's table of docs/errors.md."""
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    sections: dict[str, set[str]] = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        domain = re.match(r".*\(`(\w+)`\)", block)
        assert domain, f"an errors.md section names no domain: {block.splitlines()[0]}"
        sections[domain.group(1)] = set(re.findall(r"^\| `([A-Z_]+)` \|", block, re.MULTILINE))
    return sections


def test_every_error_code_is_documented() -> None:
    from ratatosk import ConnectorErrorCodes, MessagingErrorCodes
    from ratatosk_twilio import TwilioErrorCodes

    sections = _error_sections()
    for code_set, domain in ((MessagingErrorCodes, "messaging"),
                             (ConnectorErrorCodes, "connector"), (TwilioErrorCodes, "Twilio")):
        codes = _codes(code_set)
        assert len(codes) >= 10
        listed = sections.get(domain, set())
        assert set(codes) - listed == set(), f"undocumented {domain} codes"
        assert listed - set(codes) == set(), f"docs/errors.md lists unknown {domain} codes"
