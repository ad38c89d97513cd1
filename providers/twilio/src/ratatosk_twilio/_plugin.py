"""The ``ratatosk`` entry point of ratatosk-messaging-twilio: the connectors and CLI commands.

The core finds this module only through the ``twilio = ratatosk_twilio._plugin`` entry point in
the ``ratatosk`` group; importing it is cheap (the connectors load when the hook runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ratatosk
from ratatosk.provider import lazy_callable

if TYPE_CHECKING:
    from ratatosk import Connector

__all__ = [
    "ratatosk_register_commands",
    "ratatosk_register_connectors",
    "ratatosk_register_demo_sandboxes",
]


@ratatosk.hookimpl
def ratatosk_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register the Twilio SMS (the provider's default) and WhatsApp connectors."""
    from ._connector import TwilioSmsConnector, TwilioWhatsAppConnector

    register(TwilioSmsConnector)
    register(TwilioWhatsAppConnector)


@ratatosk.hookimpl
def ratatosk_register_commands(cli: Any) -> None:
    """Add ``ratatosk demo``, ``ratatosk twilio sandbox`` (a local Twilio-compatible server),
    ``ratatosk twilio inbound`` (make a running sandbox send an inbound message) and
    ``ratatosk twilio advance`` (move a running sandbox's messages on their way)."""
    cli.add_command(
        "demo",
        help="Watch the whole life of a message on the local Twilio sandbox (no account needed)",
        configure=lazy_callable("ratatosk_twilio._demo:configure"),
        run=lazy_callable("ratatosk_twilio._demo:run"),
    )
    group = cli.add_group("twilio", help="Twilio tools")
    group.add_command(
        "inbound",
        help="Make a running sandbox send an inbound message to a webhook (signed)",
        configure=lazy_callable("ratatosk_twilio.sandbox._inbound_cli:configure"),
        run=lazy_callable("ratatosk_twilio.sandbox._inbound_cli:run"),
    )
    group.add_command(
        "advance",
        help="Move a running sandbox's messages to their next status (or to --to STATUS)",
        configure=lazy_callable("ratatosk_twilio.sandbox._advance_cli:configure"),
        run=lazy_callable("ratatosk_twilio.sandbox._advance_cli:run"),
    )
    group.add_command(
        "sandbox",
        help="Run a local Twilio-compatible Messages API server (the Twilio sandbox)",
        configure=lazy_callable("ratatosk_twilio.sandbox._cli:configure"),
        run=lazy_callable("ratatosk_twilio.sandbox._cli:run"),
    )


@ratatosk.hookimpl
def ratatosk_register_demo_sandboxes(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Offer the Twilio sandbox to ``ratatosk demo``'s side-by-side part."""
    register("twilio", lazy_callable("ratatosk_twilio._demo:demo_sandbox"))
