"""ISO 8601 parsing shared by schema value conversion and serialization (standard library only)."""

from __future__ import annotations

from datetime import datetime


def parse_datetime(text: str) -> datetime:
    """Parse ISO 8601 (``2024-05-01T12:00:00Z``, ``...+02:00``, a date alone); ValueError if not."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)
