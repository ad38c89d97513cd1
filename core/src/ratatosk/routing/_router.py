"""Routing connectors: several connectors (of any providers) behind one.

:class:`FailoverConnector` tries its members in order and moves on only for failures that concern
the provider (:func:`~ratatosk.is_provider_failure`); :class:`RoundRobinConnector` starts each send
at the next member and fails over the same way. A member that failed is skipped for a cool-down,
then tried once (half-open) and rejoins when that send succeeds.

Each member's operations run as steps of the router's own (:func:`~ratatosk.connector.run_on`):
written once, on both drivers, each member on its own transports.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from attrs import evolve

from .._errors import ConnectorErrorCodes, ErrorInfo, MessagingErrorCodes, ValidationIssue
from .._models import Message
from .._optout import refuse_if_suppressed
from .._results import ConnectorHealth, Err, Ok, ReceiveResult, Result, SendResult, StatusUpdate
from .._source import MessageSource
from .._webhooks import WebhookKind, WebhookReply
from ..connector import Connector, Operation, operation, run_on
from ..schema import ChannelCapability, ChannelEndpoint, ChannelSchema
from ._policy import MemberHealth, is_provider_failure

__all__ = ["FailoverConnector", "RoundRobinConnector", "RoutingConnector", "routed_schema"]

_CAP = ChannelCapability
_REMEMBERED_IDS = 100_000


def routed_schema(kind: str, members: Sequence[Connector[Any]]) -> ChannelSchema:
    """What every member supports: capabilities, content types, endpoints (each direction only
    when all allow it) and message properties common to all; strict when any member is."""
    schemas = [m.schema for m in members]
    first, rest = schemas[0], schemas[1:]
    capabilities = first.capabilities
    for schema in rest:
        capabilities &= schema.capabilities
    endpoints = []
    for endpoint in first.endpoints:
        same = [s.endpoint(endpoint.type) for s in rest]
        if all(e is not None for e in same):
            others = [e for e in same if e is not None]
            endpoints.append(ChannelEndpoint(
                endpoint.type,
                can_send=endpoint.can_send and all(e.can_send for e in others),
                can_receive=endpoint.can_receive and all(e.can_receive for e in others),
                required=endpoint.required or any(e.required for e in others)))
    ids = ", ".join(s.connector_id for s in schemas)
    return ChannelSchema(
        provider="routing",
        type=kind,
        version="1",
        display_name=f"{kind}({ids})",
        description=f"Routes each message to one of: {ids}.",
        capabilities=capabilities,
        content_types=[t for t in first.content_types
                       if all(t in s.content_types for s in rest)],
        endpoints=endpoints,
        message_properties=[p for p in first.message_properties
                            if all(s.message_property(p.name) is not None for s in rest)],
        strict=any(s.strict for s in schemas),
    )


class RoutingConnector(Connector[None]):
    """The common part of the routing connectors: members, their circuits, the routed schema.

    ``members``: the connectors, in order (any providers; each keeps its own settings,
    transports, retries, hooks, suppressions and status tracker). ``cooldown``: seconds a
    member is skipped after a provider-level failure (longer when the provider said
    ``Retry-After``). ``clock``: a monotonic clock in seconds (injectable for tests).

    A send returns the member's result; its ``additional_data`` says which member sent
    (``routed_via``: the connector id, ``route_index``: its position) and which failed before
    (``failed_over``). When no member could take the message the error is
    ``MESSAGE_ROUTING_FAILED`` with every attempt in ``details["attempts"]``.
    """

    provider: ClassVar[str] = "routing"
    connector_type: ClassVar[str] = "routing"

    def __init__(
        self,
        members: Iterable[Connector[Any]],
        *,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        chosen = tuple(members)
        if not chosen:
            raise ValueError(f"a {self.connector_type} connector needs at least one member")
        for member in chosen:
            if not isinstance(member, Connector):
                raise TypeError(f"a routing member must be a Connector, not "
                                f"{type(member).__name__}")
        if len({id(m) for m in chosen}) != len(chosen):
            raise ValueError("the same connector is listed twice")
        cooldown = float(cooldown)
        if cooldown < 0:
            raise ValueError("cooldown must be >= 0")
        self.members: tuple[Connector[Any], ...] = chosen
        self.cooldown = cooldown
        self.health: tuple[MemberHealth, ...] = tuple(
            MemberHealth(cooldown, clock) for _ in chosen)
        self._sent_by: OrderedDict[str, int] = OrderedDict()
        self._sent_lock = threading.Lock()
        super().__init__(routed_schema(self.connector_type, chosen))

    def order(self) -> list[int]:
        """The members' positions in the order a send tries them."""
        return list(range(len(self.members)))

    def member_label(self, index: int) -> str:
        """``"<position>:<connector id>"``: how results and errors name a member."""
        return f"{index}:{self.members[index].schema.connector_id}"

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> Result[None]:
        """Initialize every member (no I/O): a member's configuration error is the router's."""
        for index, member in enumerate(self.members):
            result = member.blocking().initialize()
            error = result.error
            if error is not None and error.code != ConnectorErrorCodes.ALREADY_INITIALIZED:
                return Err(evolve(error, message=f"member {self.member_label(index)}: "
                                                 f"{error.message}"))
        return Ok(None)

    @operation
    def shutdown(self) -> Operation[None]:
        """Shut the router and then every member down (each closes its own transports)."""
        result = yield from Connector.shutdown.fn(self)
        problems = [] if result.error is None else [result.error.message]
        for index, member in enumerate(self.members):
            done = yield from run_on(member, "shutdown")
            if done.error is not None:
                problems.append(f"member {self.member_label(index)}: {done.error.message}")
        if problems:
            return Err(ErrorInfo(MessagingErrorCodes.MESSAGING_ERROR,
                                 "the routing connector shut down, with problems: "
                                 + "; ".join(problems)))
        return Ok(None)

    # -- sending -----------------------------------------------------------------------------
    def _send(self, message: Message, failure: str) -> Operation[SendResult]:
        error = self.check_ready(_CAP.SEND_MESSAGES, "send_message")
        if error is None:
            issues = self.schema.validate_message(message)
            error = self.validation_failed(issues) if issues else refuse_if_suppressed(
                self, message)
        if error is not None:
            return Err(error)
        attempts: list[dict[str, Any]] = []
        last: ErrorInfo | None = None
        for index in self.order():
            health = self.health[index]
            if not health.acquire():
                continue
            try:
                result: Result[SendResult] = yield from run_on(
                    self.members[index], "send_message", message)
            except BaseException:
                health.release()
                raise
            error = result.error
            if error is None or not is_provider_failure(error):
                health.succeeded()
                routed = self._routed(result, index, attempts)
                self._after_send_bookkeeping(message, routed)
                return routed
            health.failed(error)
            attempts.append({"member": self.member_label(index), "error_code": str(error.code),
                             "message": error.message})
            last = error
        return Err(self._no_member(attempts, last))

    def _routed(self, result: Result[SendResult], index: int,
                attempts: list[dict[str, Any]]) -> Result[SendResult]:
        member = self.members[index]
        routing: dict[str, Any] = {"routed_via": member.schema.connector_id,
                                   "route_index": index}
        if attempts:
            routing["failed_over"] = attempts
        data, error = result.data, result.error
        if data is not None:
            if data.remote_message_id:
                self._remember(data.remote_message_id, index)
            return Ok(evolve(data, additional_data={**data.additional_data, **routing}))
        assert error is not None
        return Err(evolve(error, details={**error.details, **routing}))

    def _no_member(self, attempts: list[dict[str, Any]], last: ErrorInfo | None) -> ErrorInfo:
        waits = [h.wait() for h in self.health]
        if last is None:
            wait = min(waits)
            return ErrorInfo(
                MessagingErrorCodes.MESSAGE_ROUTING_FAILED,
                f"every member is cooling down after failures; the next may be tried in "
                f"{wait:.1f} s (nothing was sent)",
                retryable=True, retry_after=wait,
                details={"attempts": [], "cooling_down": [
                    self.member_label(i) for i in range(len(self.members))]})
        tried = "; ".join(f"{a['member']}: {a['error_code']}" for a in attempts)
        return ErrorInfo(
            MessagingErrorCodes.MESSAGE_ROUTING_FAILED,
            f"no member could take the message (nothing was sent): {tried}",
            retryable=True, retry_after=min(waits) or None,
            details={"attempts": attempts})

    def _remember(self, remote_id: str, index: int) -> None:
        with self._sent_lock:
            self._sent_by[remote_id] = index
            self._sent_by.move_to_end(remote_id)
            while len(self._sent_by) > _REMEMBERED_IDS:
                self._sent_by.popitem(last=False)

    def sent_by(self, remote_id: str) -> Connector[Any] | None:
        """The member that sent ``remote_id`` (remembered for the last 100,000 sends)."""
        with self._sent_lock:
            index = self._sent_by.get(remote_id)
        return None if index is None else self.members[index]

    # -- status queries ----------------------------------------------------------------------
    @operation
    def get_message_status(self, remote_id: str) -> Operation[StatusUpdate]:
        """Ask the member that sent ``remote_id``; for an id sent before (not remembered), ask
        each member in turn until one knows it."""
        if not isinstance(remote_id, str):
            raise TypeError(f"remote_id must be a string, not {type(remote_id).__name__}")
        error = self.check_ready(_CAP.MESSAGE_STATUS_QUERY, "get_message_status")
        if error is None and not remote_id.strip():
            error = self.validation_failed(
                [ValidationIssue("remote_id", "must not be empty", "required")])
        if error is not None:
            return Err(error)
        with self._sent_lock:
            known = self._sent_by.get(remote_id)
        candidates = [known] if known is not None else range(len(self.members))
        result: Result[StatusUpdate] | None = None
        for index in candidates:
            result = yield from run_on(self.members[index], "get_message_status", remote_id)
            if result.data is not None:
                data = result.data
                routed = evolve(data, additional_data={
                    **data.additional_data, "routed_via": self.members[index].schema.connector_id,
                    "route_index": index})
                if self.status_tracker is not None:
                    routed = self.status_tracker.annotate(routed)
                return Ok(routed)
        assert result is not None
        return result

    # -- webhooks ----------------------------------------------------------------------------
    def _webhook_order(self, source: MessageSource) -> list[int]:
        claimed = [i for i, m in enumerate(self.members) if m.classify_webhook(source)]
        return claimed + [i for i in range(len(self.members)) if i not in claimed]

    def _first_accepting(self, name: str, capability: ChannelCapability,
                         source: MessageSource) -> Operation[Any]:
        if not isinstance(source, MessageSource):
            raise TypeError(f"{name} takes a MessageSource, not {type(source).__name__}")
        error = self.check_ready(capability, name)
        if error is not None:
            return Err(error)
        first: Result[Any] | None = None
        for index in self._webhook_order(source):
            result: Result[Any] = yield from run_on(self.members[index], name, source)
            if result.error is None:
                return result
            first = first or result
        assert first is not None
        return first

    @operation
    def receive_messages(self, source: MessageSource) -> Operation[ReceiveResult]:
        """The inbound webhook, parsed by the first member whose signature check accepts it."""
        return (yield from self._first_accepting("receive_messages", _CAP.RECEIVE_MESSAGES,
                                                 source))

    @operation
    def receive_message_status(self, source: MessageSource) -> Operation[StatusUpdate]:
        """The status callback, parsed by the first member whose signature check accepts it."""
        return (yield from self._first_accepting("receive_message_status",
                                                 _CAP.HANDLE_MESSAGE_STATE, source))

    def forget_webhook(self, data: ReceiveResult | StatusUpdate) -> None:
        """Each member forgets the key (the one that parsed the webhook remembered it)."""
        for member in self.members:
            member.forget_webhook(data)

    def classify_webhook(self, source: MessageSource) -> WebhookKind | None:
        """The first member's classification that is not None."""
        for member in self.members:
            kind = member.classify_webhook(source)
            if kind is not None:
                return kind
        return None

    def webhook_reply(self, kind: WebhookKind, reply: object | None = None) -> WebhookReply:
        """The first member's reply (mount each member's own endpoint when replies differ)."""
        return self.members[0].webhook_reply(kind, reply)

    # -- health ------------------------------------------------------------------------------
    def _test_connection(self) -> Operation[ConnectorHealth]:
        error = self.check_ready(_CAP.HEALTH_CHECK, "test_connection")
        if error is not None:
            return Err(error)
        members: dict[str, Any] = {}
        issues: list[str] = []
        for index, member in enumerate(self.members):
            result = yield from run_on(member, "test_connection")
            label = self.member_label(index)
            healthy = result.data is not None and result.data.is_healthy
            members[label] = {"healthy": healthy, "cooling_down": self.health[index].is_open}
            if not healthy:
                issues.append(f"{label}: {result.error or 'unhealthy'}")
        # a router works while at least one of its members does
        return Ok(ConnectorHealth(is_healthy=any(m["healthy"] for m in members.values()),
                                  state=self.state.value, issues=tuple(issues),
                                  details={"members": members}))


class FailoverConnector(RoutingConnector):
    """Tries its members in order: the first is used while it works; the next takes over only
    for a provider-level failure (unreachable, credentials, funds, throttling it could not wait
    out, HTTP 503), never for a recipient's or a message's error or an outcome that may have been
    sent. ``FailoverConnector([twilio, vonage], cooldown=30)``, or from a DSN:
    ``ratatosk.connect("failover(twilio://... vonage://...)")``."""

    connector_type: ClassVar[str] = "failover"


class RoundRobinConnector(RoutingConnector):
    """Spreads sends: each starts at the next member, and fails over like
    :class:`FailoverConnector` (members cooling down are skipped).
    ``ratatosk.connect("roundrobin(twilio://... twilio://...)")``."""

    connector_type: ClassVar[str] = "roundrobin"

    def __init__(self, members: Iterable[Connector[Any]], *, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(members, cooldown=cooldown, clock=clock)
        self._turn = itertools.count()

    def order(self) -> list[int]:
        count = len(self.members)
        start = next(self._turn) % count
        return [(start + i) % count for i in range(count)]
