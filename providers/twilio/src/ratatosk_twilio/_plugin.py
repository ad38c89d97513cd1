"""The ``ratatosk`` entry point of ratatosk-messaging-twilio: the connectors and CLI commands.

The core finds this module only through the ``twilio = ratatosk_twilio._plugin`` entry point in
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
    """Register the Twilio SMS (the provider's default) and WhatsApp connectors."""
    from ._connector import TwilioSmsConnector, TwilioWhatsAppConnector

    register(TwilioSmsConnector)
    register(TwilioWhatsAppConnector)


def _sandbox_parser() -> argparse.ArgumentParser:
    from .sandbox._cli import build_parser

    return build_parser()


def _sandbox_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _configure_sandbox(parser: argparse.ArgumentParser) -> None:
    """Give ``ratatosk twilio sandbox`` the sandbox's own options (and its --help)."""
    source = _sandbox_parser()
    parser.description = source.description
    for action in _sandbox_actions(source):
        parser._add_action(action)


def _run_sandbox(args: argparse.Namespace) -> int:
    """Rebuild the sandbox's argument list from the parsed options and run it."""
    from .sandbox import main

    argv: list[str] = []
    for action in _sandbox_actions(_sandbox_parser()):
        value = getattr(args, action.dest, action.default)
        if value is None or value == action.default:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(flag)
        else:
            argv += [flag, str(value)]
    return main(argv)


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    from ._demo import configure

    configure(parser)


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo import run

    return run(args)


def _configure_inbound(parser: argparse.ArgumentParser) -> None:
    from .sandbox._inbound_cli import configure

    configure(parser)


def _run_inbound(args: argparse.Namespace) -> int:
    from .sandbox._inbound_cli import run

    return run(args)


def _configure_advance(parser: argparse.ArgumentParser) -> None:
    from .sandbox._advance_cli import configure

    configure(parser)


def _run_advance(args: argparse.Namespace) -> int:
    from .sandbox._advance_cli import run

    return run(args)


@ratatosk.hookimpl
def ratatosk_register_commands(cli: Any) -> None:
    """Add ``ratatosk demo``, ``ratatosk twilio sandbox`` (a local Twilio-compatible server),
    ``ratatosk twilio inbound`` (make a running sandbox send an inbound message) and
    ``ratatosk twilio advance`` (move a running sandbox's messages on their way)."""
    cli.add_command(
        "demo",
        help="Watch the whole life of a message on the local Twilio sandbox (no account needed)",
        configure=_configure_demo,
        run=_run_demo,
    )
    group = cli.add_group("twilio", help="Twilio tools")
    group.add_command(
        "inbound",
        help="Make a running sandbox send an inbound message to a webhook (signed)",
        configure=_configure_inbound,
        run=_run_inbound,
    )
    group.add_command(
        "advance",
        help="Move a running sandbox's messages to their next status (or to --to STATUS)",
        configure=_configure_advance,
        run=_run_advance,
    )
    group.add_command(
        "sandbox",
        help="Run a local Twilio-compatible Messages API server (the Twilio sandbox)",
        configure=_configure_sandbox,
        run=_run_sandbox,
    )


def _demo_sandbox(hooks_url: str) -> Any:
    from ._demo import demo_sandbox

    return demo_sandbox(hooks_url)


@ratatosk.hookimpl
def ratatosk_register_demo_sandboxes(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Offer the Twilio sandbox to ``ratatosk demo``'s side-by-side part."""
    register("twilio", _demo_sandbox)
