"""One ledger-backed send, written once (a generator of effects) for both drivers.

:func:`delivery` records the intent (write-ahead: durable before the request leaves), claims the
message, runs the connector's own ``send_message`` operation and records the outcome. A call
with an idempotency key already recorded as sent, outcome unknown or suppressed sends nothing
and returns the recorded outcome, so a redelivered task or a rerun never sends twice.
:func:`deliver` (``await``) and :func:`deliver_blocking` run it with the connector's async and
blocking drivers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen

from .._models import Message
from .._results import Result, SendResult
from ..connector._operation import Effect, drive_async, drive_blocking
from ..ledger import DeliveryState, Ledger, LedgerEntry, idempotency_key
from ..transports import HttpRequest

if TYPE_CHECKING:
    from ..connector._base import Connector


IDEMPOTENCY_HEADER_ATTRIBUTE = "idempotency_key_header"
"""A connector class whose provider accepts an idempotency key on a send sets this class
attribute to the header's name (``idempotency_key_header = "Idempotency-Key"``); :func:`delivery`
then sends the ledger's key in that header on the send's requests. Neither Twilio's nor Vonage's
message API takes one, so their connectors do not set it."""


def default_worker() -> str:
    """This process's name in the ledger's claims (``host:pid``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@frozen(slots=True)
class Delivery:
    """How one ledger-backed send ended.

    ``state`` is the ledger's state after the call. ``result`` is the send's result when this
    call sent the request (``sent_now``), else None: the message was already handled (``entry``
    tells how) or another worker holds it (``state`` is ``pending``).
    """

    idempotency_key: str
    row_key: str
    state: DeliveryState
    entry: LedgerEntry | None
    result: Result[SendResult] | None = None
    sent_now: bool = False

    @property
    def outcome_unknown(self) -> bool:
        """The request may have reached the provider although no answer came back."""
        return self.state is DeliveryState.OUTCOME_UNKNOWN


def _segments(data: dict[str, Any]) -> int | None:
    for key in ("num_segments", "segments", "message-count"):
        value = data.get(key)
        if value is None:
            continue
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return None


def _price(data: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    value = data.get("price", data.get("message-price"))
    currency = data.get("price_unit", data.get("currency"))
    if value in (None, ""):
        return None, None
    try:
        return Decimal(str(value)), None if currency is None else str(currency)
    except InvalidOperation:
        return None, None


def delivery(
    connector: Connector,
    message: Message,
    *,
    ledger: Ledger,
    campaign: str,
    row_key: str | None = None,
    key: str | None = None,
    worker: str | None = None,
) -> Generator[Effect, Any, Delivery]:
    """The ledger-backed send of ``message`` as a generator of effects (see the module doc).

    ``row_key`` names the message within ``campaign`` (default: the message id); ``key`` is the
    idempotency key (default: :func:`ratatosk.ledger.idempotency_key` of the two). Closing the
    generator after the request left (a cancelled task, a second Ctrl-C) records the message as
    outcome unknown; closing it before releases the claim. Storage failures raise
    :class:`~ratatosk.ledger.LedgerError` (nothing is sent after a failed intent; a failed outcome
    write leaves the message claimed, which a rerun does not send again).
    """
    row = message.id if row_key is None else row_key
    ikey = idempotency_key(campaign, row) if key is None else key
    owner = worker or default_worker()
    recipient = message.receiver.address if message.receiver is not None else ""
    entry = ledger.record_intent(campaign=campaign, row_key=row, recipient=recipient,
                                 idempotency_key=ikey, message_id=message.id)
    if entry.state in (DeliveryState.SENT, DeliveryState.OUTCOME_UNKNOWN,
                       DeliveryState.SUPPRESSED):
        return Delivery(ikey, row, entry.state, entry)
    if not ledger.claim(ikey, owner):
        current = ledger.get(ikey)
        return Delivery(ikey, row, current.state if current else entry.state, current)
    send = type(connector).send_message.fn(connector, message)  # the operation's own generator
    header = getattr(type(connector), IDEMPOTENCY_HEADER_ATTRIBUTE, None)
    left = False
    finished = False
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = send.send(value) if error is None else send.throw(error)
            except StopIteration as stop:
                result: Result[SendResult] = stop.value
                break
            value = error = None
            if isinstance(effect, HttpRequest):
                left = True
                if isinstance(header, str) and header and effect.method.upper() == "POST":
                    effect = evolve(effect, headers=(*effect.headers.items(), (header, ikey)))
            try:
                value = yield effect
            except GeneratorExit:
                raise
            except BaseException as exc:  # a TransportError thrown in by the driver
                error = exc
        finished = True
    finally:
        send.close()
        if not finished:
            if left:
                ledger.record_outcome(ikey, DeliveryState.OUTCOME_UNKNOWN,
                                      error_code="INTERRUPTED")
            else:
                ledger.release(ikey, owner)
    if result.is_success:
        data = result.data
        assert data is not None
        price, currency = _price(data.additional_data)
        ledger.record_outcome(ikey, DeliveryState.SENT,
                              provider_message_id=data.remote_message_id,
                              segments=_segments(data.additional_data), price=price,
                              currency=currency)
        state = DeliveryState.SENT
    else:
        info = result.error
        assert info is not None
        state = DeliveryState.OUTCOME_UNKNOWN if info.outcome_unknown else DeliveryState.FAILED
        ledger.record_outcome(ikey, state, error_code=str(info.code),
                              provider_code=info.provider_code)
    return Delivery(ikey, row, state, ledger.get(ikey), result, sent_now=True)


async def deliver(
    connector: Connector,
    message: Message,
    *,
    ledger: Ledger,
    campaign: str,
    row_key: str | None = None,
    key: str | None = None,
    worker: str | None = None,
) -> Delivery:
    """``await`` a ledger-backed send (:func:`delivery` on the connector's async driver).

    The ledger's own calls are blocking (SQLite, psycopg); each is one short transaction.
    """
    return await drive_async(connector, delivery(
        connector, message, ledger=ledger, campaign=campaign, row_key=row_key, key=key,
        worker=worker))


def deliver_blocking(
    connector: Connector,
    message: Message,
    *,
    ledger: Ledger,
    campaign: str,
    row_key: str | None = None,
    key: str | None = None,
    worker: str | None = None,
) -> Delivery:
    """A ledger-backed send on the connector's blocking driver (threads, Celery workers)."""
    return drive_blocking(connector, delivery(
        connector, message, ledger=ledger, campaign=campaign, row_key=row_key, key=key,
        worker=worker))
