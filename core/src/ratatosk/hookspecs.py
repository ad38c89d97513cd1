"""Every plugin hook Ratatosk defines, in one module.

A plugin is a module or object with functions decorated with :data:`ratatosk.hookimpl`; a
distribution publishes it through the ``ratatosk`` entry-point group. Each hook below is documented
in docs/plugins.md; a meta-test fails when one is not documented there or not tested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pluggy

if TYPE_CHECKING:
    from ._models import Message
    from ._optout import OptOutEvent
    from ._results import Result, SendResult, StatusUpdate
    from .connector import Connector

PROJECT_NAME = "ratatosk"
F = TypeVar("F", bound=Callable[..., Any])

_spec = pluggy.HookspecMarker(PROJECT_NAME)
_impl = pluggy.HookimplMarker(PROJECT_NAME)


def hookspec(function: F) -> F:
    """Mark a hook specification (typed: the function keeps its signature)."""
    return _spec(function)


@overload
def hookimpl(function: F) -> F: ...


@overload
def hookimpl(
    function: None = None,
    *,
    tryfirst: bool = False,
    trylast: bool = False,
    hookwrapper: bool = False,
    wrapper: bool = False,
    specname: str | None = None,
) -> Callable[[F], F]: ...


def hookimpl(
    function: F | None = None,
    *,
    tryfirst: bool = False,
    trylast: bool = False,
    hookwrapper: bool = False,
    wrapper: bool = False,
    specname: str | None = None,
) -> Any:
    """Mark a hook implementation; usable bare (``@hookimpl``) or with options."""
    marker = _impl(
        tryfirst=tryfirst,
        trylast=trylast,
        hookwrapper=hookwrapper,
        wrapper=wrapper,
        specname=specname,
    )
    if function is None:
        return marker
    return marker(function)


@hookspec
def ratatosk_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register connector classes by calling ``register(ConnectorClass)`` for each one."""


@hookspec
def ratatosk_register_commands(cli: Any) -> None:
    """Add commands to the ``ratatosk`` command line through ``cli.add_command(...)``."""


@hookspec
def ratatosk_before_send(connector: Connector, message: Message) -> Message | None:
    """Called before a message is sent; return a replacement message to rewrite it, or None."""


@hookspec
def ratatosk_after_send(connector: Connector, message: Message, result: Result[SendResult]) -> None:
    """Called after every send attempt with the message sent and its result."""


@hookspec
def ratatosk_message_received(connector: Connector, message: Message) -> None:
    """Called for each inbound message a connector parsed from a webhook."""


@hookspec
def ratatosk_status_received(connector: Connector, update: StatusUpdate) -> None:
    """Called for each status update a connector parsed from a status callback."""


@hookspec
def ratatosk_operation_finished(connector: Connector, operation: str, subject: Any,
                                result: Result[Any], seconds: float) -> None:
    """Called when a send, status query or webhook receive finished, with its duration."""


@hookspec
def ratatosk_is_suppressed(connector: Connector, sender: str | None, recipient: str) -> bool | None:
    """Refuse (True) or allow (False) a send from ``sender`` to ``recipient``; None: no opinion."""


@hookspec
def ratatosk_opt_out_received(connector: Connector, event: OptOutEvent) -> None:
    """Called for each STOP/START/HELP keyword or provider opt-out error a connector saw."""


@hookspec
def ratatosk_register_demo_sandboxes(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Offer a local sandbox to ``ratatosk demo`` by calling ``register(name, start)``."""
