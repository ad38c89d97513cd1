"""Where the Twilio reference data lives: `tests/data/twilio/` inside the repository.

The files are copies of the project's shared Twilio facts (their sources are listed in
`tests/data/README.md`); the repository carries them so that a fresh clone alone passes its tests.
A test that compares against this data fails (never skips) when a file is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DATA_TWILIO = Path(__file__).resolve().parents[1] / "data" / "twilio"


def reference_file(name: str) -> Path:
    """The path of ``tests/data/twilio/<name>``; the calling test fails when it is missing."""
    path = DATA_TWILIO / name
    if not path.is_file():
        pytest.fail(f"the Twilio reference data {path} is missing")
    return path
