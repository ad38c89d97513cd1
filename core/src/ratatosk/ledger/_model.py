"""The ledger's records, its protocol and its errors (no storage code here)."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from attrs import field, frozen


class LedgerError(Exception):
    """The ledger's store failed (cannot connect, disk full, a newer schema, a conflicting row)."""


class DeliveryState(str, enum.Enum):
    """Where one message of a campaign (or of a worker) stands, as the ledger knows it.

    * ``pending``: the intent is recorded; the request may be about to leave (``worker`` is set
      once a worker claimed it) or not yet.
    * ``sent``: the provider accepted the request (``provider_message_id`` is known).
    * ``failed``: the provider refused it, or it never left; sending it again is safe.
    * ``outcome_unknown``: the request may have reached the provider (a timeout after sending, a
      worker that died with the claim): sending it again may send it twice.
    * ``suppressed``: deliberately not sent (an opt-out, a filter).
    """

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    SUPPRESSED = "suppressed"

    def __str__(self) -> str:
        return self.value


def idempotency_key(campaign: str, row_key: str) -> str:
    """A stable idempotency key for row ``row_key`` of ``campaign`` (the same on every rerun)."""
    digest = hashlib.sha256(f"{len(campaign)}:{campaign}|{row_key}".encode()).hexdigest()
    return f"rtk-{digest[:40]}"


@frozen(slots=True)
class LedgerEntry:
    """One message as recorded in the ledger. Times are timezone-aware (UTC)."""

    idempotency_key: str
    campaign: str
    row_key: str
    recipient: str
    state: DeliveryState
    created_at: datetime
    updated_at: datetime
    message_id: str | None = None
    worker: str | None = None
    claimed_at: datetime | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    provider_code: str | None = None
    segments: int | None = None
    price: Decimal | None = None
    currency: str | None = None


@frozen(slots=True)
class LedgerStatusUpdate:
    """One status update received for a message (the ledger keeps all of them, in order)."""

    provider_message_id: str
    status: str
    received_at: datetime
    idempotency_key: str | None = None
    provider_status: str | None = None
    error_code: str | None = None
    provider_code: str | None = None


@frozen(slots=True)
class CampaignSummary:
    """What ``ratatosk campaign status`` shows: messages by state, segments and cost.

    ``cost`` is the sum of the prices the provider reported, per currency, as reported (Twilio
    reports prices as negative amounts).
    """

    campaign: str
    counts: Mapping[DeliveryState, int] = field(factory=dict)
    segments: int = 0
    cost: Mapping[str, Decimal] = field(factory=dict)

    @property
    def total(self) -> int:
        """Every message recorded for the campaign."""
        return sum(self.counts.values())

    def count(self, state: DeliveryState) -> int:
        """The messages in ``state`` (0 when there are none)."""
        return self.counts.get(state, 0)


@runtime_checkable
class Ledger(Protocol):
    """A durable record of every message a campaign or worker handles.

    Every method commits before it returns (write-ahead: record the intent, *then* send).
    Implementations: :class:`~ratatosk.ledger.SqliteLedger` (embedded, one machine) and
    :class:`~ratatosk.ledger.PostgresLedger` (several machines). Storage failures raise
    :class:`LedgerError`.
    """

    def record_intent(
        self,
        *,
        campaign: str,
        row_key: str,
        recipient: str,
        idempotency_key: str,
        message_id: str | None = None,
    ) -> LedgerEntry:
        """Record that this message is about to be sent (``pending``); idempotent.

        Returns the stored entry: the new one, or the one already recorded under this
        idempotency key (whatever its state, so a rerun sees what happened before). A row key
        of the campaign already recorded under another idempotency key raises ``LedgerError``.
        """
        ...

    def claim(self, idempotency_key: str, worker: str) -> bool:
        """Take the right to send this message; exactly one of several concurrent callers wins.

        Succeeds for a ``pending`` message nobody holds and for a ``failed`` one (sending it
        again is safe; it becomes ``pending`` again). Fails for an unknown key, a message another
        worker holds, and one that is ``sent``, ``outcome_unknown`` or ``suppressed``.
        """
        ...

    def release(self, idempotency_key: str, worker: str) -> bool:
        """Give back a claim whose request never left (the message stays ``pending``)."""
        ...

    def record_outcome(
        self,
        idempotency_key: str,
        state: DeliveryState,
        *,
        provider_message_id: str | None = None,
        error_code: str | None = None,
        provider_code: str | None = None,
        segments: int | None = None,
        price: Decimal | None = None,
        currency: str | None = None,
    ) -> bool:
        """Record how the send ended; returns False if the message was not ``pending``/unknown.

        ``sent``, ``failed`` and ``suppressed`` are final for a send; ``outcome_unknown`` may later
        be resolved to ``sent`` or ``failed`` (a reconciliation by status query).
        """
        ...

    def record_status(
        self,
        provider_message_id: str,
        status: str,
        *,
        provider_status: str | None = None,
        error_code: str | None = None,
        provider_code: str | None = None,
        received_at: datetime | None = None,
    ) -> None:
        """Append a status update (from a webhook or a status query); never overwrites one."""
        ...

    def expire_claims(self, older_than: float, campaign: str | None = None) -> int:
        """Turn claims held longer than ``older_than`` seconds into ``outcome_unknown``.

        A worker that died holding a claim may or may not have sent the request. Returns how
        many messages changed.
        """
        ...

    def get(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry recorded under this key, if any."""
        ...

    def entries(self, campaign: str) -> list[LedgerEntry]:
        """Every entry of the campaign, in the order the intents were recorded."""
        ...

    def do_not_resend(self, campaign: str) -> set[str]:
        """The row keys of the campaign that a rerun must not send again.

        The ``sent`` and ``outcome_unknown`` messages, and the ``pending`` ones a worker holds
        (their request may be on the wire).
        """
        ...

    def status_updates(self, idempotency_key: str) -> list[LedgerStatusUpdate]:
        """The status updates received for this message, oldest first."""
        ...

    def summary(self, campaign: str) -> CampaignSummary:
        """Counts by state, segments and cost of the campaign."""
        ...

    def close(self) -> None:
        """Close the connection(s) to the store."""
        ...
