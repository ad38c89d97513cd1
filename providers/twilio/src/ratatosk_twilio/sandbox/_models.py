"""The sandbox's public value types (snapshots; changing them changes nothing in the sandbox)."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["CallbackRecord", "InboundDelivery", "SandboxMedia", "SandboxMessage"]


@attrs.frozen
class SandboxMedia:
    """One media item of a message (``ME...``)."""

    sid: str
    url: str
    content_type: str
    date_created: datetime


@attrs.frozen
class SandboxMessage:
    """A message as the sandbox holds it, in creation order in ``sandbox.messages``."""

    sid: str
    account_sid: str
    direction: str
    from_: str | None
    to: str
    body: str
    status: str
    messaging_service_sid: str | None
    num_segments: int
    encoding: str | None
    media: tuple[SandboxMedia, ...]
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None
    price: str | None
    price_unit: str | None
    error_code: int | None
    error_message: str | None
    status_callback: str | None
    send_at: datetime | None
    status_history: tuple[str, ...]
    params: tuple[tuple[str, str], ...]
    """The form parameters of the create request (empty for inbound messages)."""

    @property
    def num_media(self) -> int:
        return len(self.media)

    @property
    def media_urls(self) -> list[str]:
        return [m.url for m in self.media]


@attrs.frozen
class CallbackRecord:
    """One status callback POST the sandbox made (or tried to make)."""

    url: str
    params: list[tuple[str, str]]
    signature: str
    status_code: int | None
    error: str | None
    message_sid: str = ""
    message_status: str = ""
    idempotency_token: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and self.status_code < 400

    def param(self, name: str) -> str | None:
        """The value of form parameter ``name``, or None."""
        for key, value in self.params:
            if key == name:
                return value
        return None


@attrs.frozen
class InboundDelivery:
    """What ``send_inbound`` posted and how the webhook answered."""

    url: str
    params: list[tuple[str, str]]
    signature: str
    status_code: int | None
    body: str
    error: str | None
    message_sid: str
    content_type: str | None = None
    replies: tuple[SandboxMessage, ...] = ()
    """Outbound messages created from ``<Message>`` verbs of a TwiML answer."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and self.status_code < 400
