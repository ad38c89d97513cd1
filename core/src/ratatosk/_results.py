"""Result types: operations return these instead of raising for provider or input errors."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Generic, Literal, NoReturn, TypeAlias, TypeVar, Union

from attrs import field, frozen

from ._errors import ErrorInfo, MessagingError
from ._models import Message

T = TypeVar("T")
U = TypeVar("U")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


@frozen(slots=True, repr=False)
class Ok(Generic[T]):
    """A successful outcome: ``data`` holds what the operation produced.

    ``is_success`` is ``Literal[True]`` here and ``Literal[False]`` on :class:`Err`, so
    ``if result.is_success: result.data`` narrows under ``mypy --strict``.
    """

    data: T

    @property
    def is_success(self) -> Literal[True]:
        return True

    @property
    def is_failure(self) -> Literal[False]:
        return False

    @property
    def error(self) -> None:
        """Always None on a success (present so code can read ``result.error`` on any result)."""
        return None

    def unwrap(self) -> T:
        """The data."""
        return self.data

    def __repr__(self) -> str:
        return f"Ok({self.data!r})"


@frozen(slots=True, repr=False)
class Err:
    """A failed outcome: ``error`` says what went wrong."""

    error: ErrorInfo

    @property
    def is_success(self) -> Literal[False]:
        return False

    @property
    def is_failure(self) -> Literal[True]:
        return True

    @property
    def data(self) -> None:
        """Always None on a failure (present so code can read ``result.data`` on any result)."""
        return None

    def unwrap(self) -> NoReturn:
        """Raise :class:`MessagingError` carrying the error."""
        raise MessagingError(self.error)

    def __repr__(self) -> str:
        return f"Err({self.error!r})"


Result: TypeAlias = Union[Ok[T], Err]  # noqa: UP007 - a generic alias must be a typing.Union
"""The outcome of an operation: :class:`Ok` (``data``) or :class:`Err` (``error``)."""

RESULT_TYPES = (Ok, Err)
"""For ``isinstance(value, RESULT_TYPES)``: ``Result`` itself is a type alias."""


class MessageStatus(str, enum.Enum):
    """Where a message is in its life, provider-neutral."""

    UNKNOWN = "unknown"
    RECEIVED = "received"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    ROUTED = "routed"
    ROUTE_FAILED = "route_failed"
    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    READ = "read"
    CANCELED = "canceled"
    DELETED = "deleted"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    def __str__(self) -> str:
        return self.name


_FINAL = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.DELIVERY_FAILED,
        MessageStatus.READ,
        MessageStatus.CANCELED,
        MessageStatus.DELETED,
        MessageStatus.ROUTE_FAILED,
        MessageStatus.RECEIVED,
    }
)


@frozen(slots=True)
class SendResult:
    """A message the provider accepted."""

    message_id: str
    remote_message_id: str | None
    status: MessageStatus
    timestamp: datetime = field(factory=utcnow)
    provider_status: str | None = None
    additional_data: dict[str, Any] = field(factory=dict)


@frozen(slots=True)
class BatchSendResult:
    """One message's outcome within ``send_batch``: its position in the input, its id and result."""

    index: int
    message_id: str
    result: Result[SendResult]

    @property
    def is_success(self) -> bool:
        return self.result.is_success


@frozen
class StatusUpdate:
    """A message's status, from a status query or a status callback.

    ``is_duplicate`` is true when the same status callback was seen before (a provider retry):
    observers and handlers are then not called again, so nothing is processed twice.

    With a status tracker on the connector (``connector.status_tracker``, see
    ``docs/statuses.md``), ``message_status`` is the message's status after this update (parts
    folded, never going back) and ``is_stale`` is true when the update did not change it: it
    came late (``sent`` after ``delivered``), repeated a status already known, or moved only one
    part of a multi-part message. Observers are not called for a stale update either.
    """

    remote_message_id: str
    status: MessageStatus
    provider_status: str | None = None
    timestamp: datetime = field(factory=utcnow)
    message_id: str | None = None
    error: ErrorInfo | None = None
    price: Decimal | None = None
    price_unit: str | None = None
    segments: int | None = None
    date_created: datetime | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    additional_data: dict[str, Any] = field(factory=dict)
    is_duplicate: bool = False
    is_stale: bool = False
    message_status: MessageStatus | None = None


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


@frozen
class ReceiveResult:
    """Messages parsed from an inbound webhook.

    ``is_duplicate`` is true when the same webhook was seen before (a provider retry): the messages
    are then empty, so nothing is processed twice.
    """

    messages: tuple[Message, ...] = field(default=(), converter=_messages)
    is_duplicate: bool = False
    additional_data: dict[str, Any] = field(factory=dict)


@frozen
class StatusInfo:
    """A connector's status: its lifecycle state, a description and details."""

    state: str
    description: str
    details: dict[str, Any] = field(factory=dict)
    timestamp: datetime = field(factory=utcnow)


@frozen
class ConnectorHealth:
    """Whether a connector can do its work now, and what was checked."""

    is_healthy: bool
    state: str
    latency_ms: float | None = None
    issues: tuple[str, ...] = ()
    details: dict[str, Any] = field(factory=dict)
    timestamp: datetime = field(factory=utcnow)
