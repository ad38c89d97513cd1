"""Provider-neutral webhook vocabulary: what a webhook is, and what to answer it.

A web endpoint (for example ``ratatosk_contrib``'s Starlette, Flask and Django adapters) receives
webhooks for any connector in the same way:

1. it asks :meth:`Connector.classify_webhook(source) <ratatosk.Connector.classify_webhook>`
   whether the request is an inbound message or a status update (:class:`WebhookKind`; ``None``
   when the connector cannot tell, unless the endpoint's route fixes the kind),
2. calls ``receive_messages(source)`` or ``receive_message_status(source)``,
3. calls the application's handler, and
4. answers with :meth:`Connector.webhook_reply(kind, reply) <ratatosk.Connector.webhook_reply>`,
   a :class:`WebhookReply` the provider shapes (Twilio: TwiML; the default: an empty 200).

Nothing here imports a web framework or a provider.
"""

from __future__ import annotations

import enum

from attrs import frozen

__all__ = ["WebhookKind", "WebhookReply"]

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


class WebhookKind(str, enum.Enum):
    """The two kinds of webhook a provider sends."""

    MESSAGE = "message"
    """An inbound message (``receive_messages``, capability RECEIVE_MESSAGES)."""
    STATUS = "status"
    """A status update of a sent message (``receive_message_status``, HANDLE_MESSAGE_STATE)."""

    def __str__(self) -> str:
        return self.value


@frozen
class WebhookReply:
    """The HTTP answer to a webhook: status code, body (bytes) and content type."""

    status_code: int
    body: bytes = b""
    content_type: str = TEXT_CONTENT_TYPE

    @classmethod
    def empty(cls, status_code: int = 200) -> WebhookReply:
        """An answer with no body (the default answer to a webhook: 200)."""
        return cls(status_code, b"", TEXT_CONTENT_TYPE)

    @classmethod
    def text(cls, status_code: int, message: str) -> WebhookReply:
        """A short plain-text answer (UTF-8): ``WebhookReply.text(403, "invalid signature")``."""
        return cls(status_code, message.encode("utf-8"), TEXT_CONTENT_TYPE)
