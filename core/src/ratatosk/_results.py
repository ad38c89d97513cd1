"""Result types: operations return these instead of raising for provider or input errors."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Generic, TypeVar

from attrs import field, frozen

from ._errors import ErrorInfo, MessagingError
from ._models import Message

T = TypeVar("T")
U = TypeVar("U")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


@frozen(slots=True)
class Result(Generic[T]):
    """The outcome of an operation: ``data`` when it succeeded, ``error`` when it did not."""

    data: T | None = None
    error: ErrorInfo | None = None

    @property
    def is_success(self) -> bool:
        return self.error is None

    @property
    def is_failure(self) -> bool:
        return self.error is not None

    def unwrap(self) -> T:
        """The data, or raise :class:`MessagingError` carrying the error."""
        if self.error is not None:
            raise MessagingError(self.error)
        return self.data  # type: ignore[return-value]

    @classmethod
    def ok(cls, data: T) -> Result[T]:
        return cls(data=data)

    @classmethod
    def fail(cls, error: ErrorInfo) -> Result[T]:
        return cls(error=error)

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Result(error={self.error!r})"
        return f"Result(data={self.data!r})"


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
    """A message's status, from a status query or a status callback."""

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
