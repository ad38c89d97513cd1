"""The ``ratatosk`` entry point of ratatosk-messaging-vonage: the connectors.

The core finds this module only through the ``vonage = ratatosk_vonage._plugin`` entry point in
the ``ratatosk`` group; importing it is cheap (the connectors load when the hook runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import ratatosk

if TYPE_CHECKING:
    from ratatosk import Connector

__all__ = ["ratatosk_register_connectors"]


@ratatosk.hookimpl
def ratatosk_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register the Vonage Messages API connector (the provider's default) and the SMS API
    connector."""
    from ._connector import VonageMessagesConnector, VonageSmsConnector

    register(VonageMessagesConnector)
    register(VonageSmsConnector)
