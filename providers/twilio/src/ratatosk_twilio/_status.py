"""Twilio message statuses and how they map to :class:`ratatosk.MessageStatus`.

Twilio's Message resource has thirteen statuses (the ``message_enum_status`` enum of its OpenAPI
spec). Every one maps to a definite framework status; the Twilio value itself always stays on the
result (``provider_status``) for callers who need the finer distinction.
"""

from __future__ import annotations

from types import MappingProxyType

from ratatosk import MessageStatus

__all__ = ["TWILIO_STATUSES", "TWILIO_STATUS_MAP", "map_twilio_status"]

TWILIO_STATUS_MAP: MappingProxyType[str, MessageStatus] = MappingProxyType(
    {
        # outbound, before a sender is chosen (Messaging Service) or in the outgoing queue
        "accepted": MessageStatus.QUEUED,
        "queued": MessageStatus.QUEUED,
        "scheduled": MessageStatus.SCHEDULED,
        # being handed to the carrier
        "sending": MessageStatus.ROUTED,
        "sent": MessageStatus.SENT,
        # Twilio could not send it at all (queue overflow, account suspended, media error)
        "failed": MessageStatus.ROUTE_FAILED,
        "delivered": MessageStatus.DELIVERED,
        # the carrier could not deliver it
        "undelivered": MessageStatus.DELIVERY_FAILED,
        # only part of the message reached the recipient: not delivered intact, and final
        "partially_delivered": MessageStatus.DELIVERY_FAILED,
        "read": MessageStatus.READ,
        "canceled": MessageStatus.CANCELED,
        # inbound: "receiving" while Twilio still fetches the message (e.g. MMS media)
        "receiving": MessageStatus.RECEIVED,
        "received": MessageStatus.RECEIVED,
    }
)
"""Twilio status -> framework status, for all thirteen Twilio statuses."""

TWILIO_STATUSES: tuple[str, ...] = tuple(TWILIO_STATUS_MAP)
"""The Twilio statuses this module knows."""


def map_twilio_status(status: str | None) -> MessageStatus:
    """The framework status for a Twilio status string (case-insensitive).

    A status Twilio may add in the future (or an empty one) maps to ``MessageStatus.UNKNOWN``;
    every status Twilio documents today has a definite mapping.
    """
    if not status:
        return MessageStatus.UNKNOWN
    return TWILIO_STATUS_MAP.get(status.strip().lower(), MessageStatus.UNKNOWN)
