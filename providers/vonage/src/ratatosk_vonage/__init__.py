"""Vonage provider for Ratatosk: the Messages API (SMS, MMS, WhatsApp) and SMS API connectors.

>>> from ratatosk_vonage import VonageChannelSchemas, VonageMessagesConnector
>>> connector = VonageMessagesConnector(settings="ApiKey=...;ApiSecret=...")  # doctest: +SKIP

The core finds this package only through its ``ratatosk`` entry point (``ratatosk_vonage._plugin``).
Names here load on first use (PEP 562), so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> (module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "VonageMessagesConnector": ("._connector", "VonageMessagesConnector"),
    "VonageSmsConnector": ("._connector", "VonageSmsConnector"),
    "VonageMessagesSettings": ("._connector", "VonageMessagesSettings"),
    "VonageSmsSettings": ("._connector", "VonageSmsSettings"),
    "VonageChannelSchemas": ("._schemas", "VonageChannelSchemas"),
    "is_gsm7": ("._segments", "is_gsm7"),
    "analyze": ("._segments", "analyze"),
    "VonageSegmentAnalysis": ("._segments", "VonageSegmentAnalysis"),
}

if TYPE_CHECKING:
    from ._connector import (
        VonageMessagesConnector,
        VonageMessagesSettings,
        VonageSmsConnector,
        VonageSmsSettings,
    )
    from ._schemas import VonageChannelSchemas
    from ._segments import VonageSegmentAnalysis, analyze, is_gsm7


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ratatosk_vonage' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0], __name__), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "VonageChannelSchemas",
    "VonageMessagesConnector",
    "VonageMessagesSettings",
    "VonageSegmentAnalysis",
    "VonageSmsConnector",
    "VonageSmsSettings",
    "__version__",
    "analyze",
    "is_gsm7",
]
