"""The sandbox's public value types (snapshots: changing them changes nothing in the sandbox)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

__all__ = ["SandboxMessage", "WebhookDelivery"]


@attrs.frozen
class SandboxMessage:
    """A message as the sandbox holds it, in ``sandbox.messages`` (creation order).

    ``api`` is ``"messages"`` (``POST /v1/messages``) or ``"sms"`` (``POST /sms/json``);
    ``direction`` ``"outbound"`` or ``"inbound"`` (injected with ``send_inbound``). An SMS API
    message has one id per part in ``part_ids`` (``id`` is the first); a Messages API message
    has its ``message_uuid`` as ``id``.
    """

    id: str
    api: str
    direction: str
    channel: str
    message_type: str
    from_: str
    to: str
    text: str | None
    client_ref: str | None
    webhook_url: str | None
    status: str
    status_history: tuple[str, ...]
    part_ids: tuple[str, ...]
    price: str | None
    created: datetime
    request: dict[str, Any]
    """The request body (the JSON object, or the form fields without the credentials)."""


@attrs.frozen
class WebhookDelivery:
    """One webhook the sandbox POSTed (or tried to): a status webhook, a delivery receipt or an
    inbound message, with exactly the bytes and headers sent and how the receiver answered."""

    kind: str
    """``"status"`` or ``"inbound"``."""
    api: str
    """``"messages"`` (JSON, signed with a Bearer JWT) or ``"sms"`` (form or query, ``sig``)."""
    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    message_id: str
    status: str
    status_code: int | None
    error: str | None
    answer: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and self.status_code < 400

    @property
    def token(self) -> str | None:
        """The Bearer JWT of a Messages API webhook, else None."""
        value = self.headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    def json(self) -> Any:
        """The JSON body (Messages API webhooks, SMS API ``POST-JSON``)."""
        return json.loads(self.body)

    def params(self) -> dict[str, str]:
        """The SMS API's parameters: the form body, the query string of a GET or the JSON
        body's fields (as strings)."""
        if self.method == "GET":
            return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return {k: str(v) for k, v in self.json().items()}
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
