"""Where the Twilio reference data lives: `shared/twilio/` beside the repository.

`RATATOSK_SHARED` overrides the location. Tests that compare against this data fail (never skip)
when it is missing: CI always has it beside the clone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]


def _shared_twilio() -> Path:
    candidates = [Path(os.environ["RATATOSK_SHARED"])] if os.environ.get("RATATOSK_SHARED") else []
    candidates += [_ROOT.parent / "shared", _ROOT / "shared"]
    for base in candidates:
        if (base / "twilio").is_dir():
            return base / "twilio"
    return _ROOT.parent / "shared" / "twilio"


SHARED_TWILIO = _shared_twilio()


def reference_file(name: str) -> Path:
    """The path of ``shared/twilio/<name>``; the calling test fails when it is missing."""
    path = SHARED_TWILIO / name
    if not path.is_file():
        pytest.fail(f"the Twilio reference data {path} is missing")
    return path
