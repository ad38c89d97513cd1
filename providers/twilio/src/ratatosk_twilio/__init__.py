"""Twilio provider for Ratatosk: SMS, MMS and WhatsApp connectors, schemas and helpers.

>>> from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector
>>> connector = TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings)  # doctest: +SKIP

The core finds this package only through its ``ratatosk`` entry point
(``ratatosk_twilio._plugin``). Names here load on first use (PEP 562), so importing the package, or
one of its submodules such as the segment calculator, stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "TwilioSmsConnector": ("._connector", "TwilioSmsConnector"),
    "TwilioWhatsAppConnector": ("._connector", "TwilioWhatsAppConnector"),
    "TwilioConnectorBase": ("._connector", "TwilioConnectorBase"),
    "TwilioSettings": ("._connector", "TwilioSettings"),
    "TwilioMessageBuilder": ("._builder", "TwilioMessageBuilder"),
    "TwilioChannelSchemas": ("._schemas", "TwilioChannelSchemas"),
    "TwilioErrorCodes": ("._errors", "TwilioErrorCodes"),
    "map_twilio_status": ("._status", "map_twilio_status"),
    "smart_encode": ("._segments", "smart_encode"),
    "analyze": ("._segments", "analyze"),
    "SegmentAnalysis": ("._segments", "SegmentAnalysis"),
    "TwiML": (".twiml", "TwiML"),
    "TwiMLResponse": (".twiml", "TwiMLResponse"),
    "signature": (".signature", None),
    "twiml": (".twiml", None),
}

if TYPE_CHECKING:
    from . import signature, twiml
    from ._builder import TwilioMessageBuilder
    from ._connector import (
        TwilioConnectorBase,
        TwilioSettings,
        TwilioSmsConnector,
        TwilioWhatsAppConnector,
    )
    from ._errors import TwilioErrorCodes
    from ._schemas import TwilioChannelSchemas
    from ._segments import SegmentAnalysis, analyze, smart_encode
    from ._status import map_twilio_status
    from .twiml import TwiML, TwiMLResponse


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ratatosk_twilio' has no attribute {name!r}")
    module = importlib.import_module(target[0], __name__)
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "SegmentAnalysis",
    "TwiML",
    "TwiMLResponse",
    "TwilioChannelSchemas",
    "TwilioConnectorBase",
    "TwilioErrorCodes",
    "TwilioMessageBuilder",
    "TwilioSettings",
    "TwilioSmsConnector",
    "TwilioWhatsAppConnector",
    "__version__",
    "analyze",
    "map_twilio_status",
    "signature",
    "smart_encode",
    "twiml",
]
