"""The ``ratatosk`` entry point of ratatosk-messaging-vonage: the connectors and CLI commands.

The core finds this module only through the ``vonage = ratatosk_vonage._plugin`` entry point in
the ``ratatosk`` group; importing it is cheap (the connectors load when the hook runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ratatosk
from ratatosk.provider import lazy_callable

if TYPE_CHECKING:
    from ratatosk import Connector

_CONTROL = "ratatosk_vonage.sandbox._control_cli"  # loaded when a command runs, not on start-up

__all__ = [
    "ratatosk_register_commands",
    "ratatosk_register_connectors",
    "ratatosk_register_demo_sandboxes",
]


@ratatosk.hookimpl
def ratatosk_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register the Vonage Messages API connector (the provider's default) and the SMS API
    connector."""
    from ._connector import VonageMessagesConnector, VonageSmsConnector

    register(VonageMessagesConnector)
    register(VonageSmsConnector)


@ratatosk.hookimpl
def ratatosk_register_commands(cli: Any) -> None:
    """Add ``ratatosk vonage sandbox`` (a local Vonage-compatible server), ``ratatosk vonage
    inbound`` (make a running sandbox send an inbound message) and ``ratatosk vonage advance``
    (move its messages on)."""
    group = cli.add_group("vonage", help="Vonage tools")
    group.add_command(
        "inbound",
        help="Make a running Vonage sandbox send a signed inbound message to a webhook",
        configure=lazy_callable(f"{_CONTROL}:configure_inbound"),
        run=lazy_callable(f"{_CONTROL}:run_inbound"),
    )
    group.add_command(
        "advance",
        help="Move a running Vonage sandbox's messages to their next status",
        configure=lazy_callable(f"{_CONTROL}:configure_advance"),
        run=lazy_callable(f"{_CONTROL}:run_advance"),
    )
    group.add_command(
        "sandbox",
        help="Run a local Vonage-compatible server: Messages API and SMS API (the Vonage sandbox)",
        configure=lazy_callable("ratatosk_vonage.sandbox._cli:configure"),
        run=lazy_callable("ratatosk_vonage.sandbox._cli:run"),
    )


@ratatosk.hookimpl
def ratatosk_register_demo_sandboxes(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Offer the Vonage sandbox to ``ratatosk demo`` (the same application on every provider)."""
    register("vonage", lazy_callable("ratatosk_vonage.sandbox._demo:demo_sandbox"))
