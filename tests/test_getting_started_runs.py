"""The getting-started page's keyword-message and settings examples run as written, and what
they print is what the page says (no network: connectors initialize on first use)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _section_block(heading: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = FENCE.findall(section)
    assert blocks, f"no Python block under '## {heading}'"
    return str(blocks[-1])


def _run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(PAGE), "exec"), {"__name__": "getting_started"})
    return out.getvalue()


def test_messages_in_one_call_runs() -> None:
    code = _section_block("Messages in one call")
    assert "Message.media(" in code and "Message.template(" in code
    _run(code)


def test_settings_example_runs_and_prints_what_the_page_says() -> None:
    code = _section_block("Settings")
    printed = _run(code)
    comment = re.search(r"print\(settings\)\s+# (.*)$", code, re.MULTILINE)
    assert comment is not None
    assert printed.splitlines() == [comment.group(1).strip()]
