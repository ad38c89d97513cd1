"""The ``ratatosk`` entry point of ratatosk-messaging-vonage: the connectors and CLI commands.

The core finds this module only through the ``vonage = ratatosk_vonage._plugin`` entry point in
the ``ratatosk`` group; importing it is cheap (the connectors load when the hook runs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ratatosk

if TYPE_CHECKING:
    from ratatosk import Connector

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


def _configure_sandbox(parser: argparse.ArgumentParser) -> None:
    from .sandbox._cli import DESCRIPTION, add_arguments

    parser.description = DESCRIPTION
    add_arguments(parser)


def _run_sandbox(args: argparse.Namespace) -> int:
    from .sandbox._cli import run

    return run(args)


def _configure_inbound(parser: argparse.ArgumentParser) -> None:
    from .sandbox._control_cli import configure_inbound

    configure_inbound(parser)


def _run_inbound(args: argparse.Namespace) -> int:
    from .sandbox._control_cli import run_inbound

    return run_inbound(args)


def _configure_advance(parser: argparse.ArgumentParser) -> None:
    from .sandbox._control_cli import configure_advance

    configure_advance(parser)


def _run_advance(args: argparse.Namespace) -> int:
    from .sandbox._control_cli import run_advance

    return run_advance(args)


@ratatosk.hookimpl
def ratatosk_register_commands(cli: Any) -> None:
    """Add ``ratatosk vonage sandbox`` (a local Vonage-compatible server), ``ratatosk vonage
    inbound`` (make a running sandbox send an inbound message) and ``ratatosk vonage advance``
    (move its messages on)."""
    group = cli.add_group("vonage", help="Vonage tools")
    group.add_command(
        "inbound",
        help="Make a running Vonage sandbox send a signed inbound message to a webhook",
        configure=_configure_inbound,
        run=_run_inbound,
    )
    group.add_command(
        "advance",
        help="Move a running Vonage sandbox's messages to their next status",
        configure=_configure_advance,
        run=_run_advance,
    )
    group.add_command(
        "sandbox",
        help="Run a local Vonage-compatible server: Messages API and SMS API (the Vonage sandbox)",
        configure=_configure_sandbox,
        run=_run_sandbox,
    )


def _demo_sandbox(hooks_url: str) -> Any:
    from .sandbox._demo import demo_sandbox

    return demo_sandbox(hooks_url)


@ratatosk.hookimpl
def ratatosk_register_demo_sandboxes(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Offer the Vonage sandbox to ``ratatosk demo`` (the same application on every provider)."""
    register("vonage", _demo_sandbox)
