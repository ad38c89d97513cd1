"""Shared by the adapter tests: a Twilio connector, a hook recorder, and two connectors of an
imaginary second provider ("Heron": JSON webhooks, a shared-secret header)."""

from __future__ import annotations

import json
from typing import Any

from ratatosk import (
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    Connector,
    EndpointType,
    Err,
    ErrorInfo,
    InvalidSourceData,
    Message,
    MessageBuilder,
    MessageContentType,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    Ok,
    ReceiveResult,
    Result,
    StatusUpdate,
    WebhookKind,
    WebhookReply,
    hookimpl,
)
from ratatosk_twilio import TwilioSmsConnector

ACCOUNT_SID = "AC" + "0" * 32


def sms_connector(settings: dict[str, Any], plugin_manager: Any = None) -> Connector:
    """A Twilio SMS connector with these settings (and a fixed account SID)."""
    return TwilioSmsConnector(settings={"AccountSid": ACCOUNT_SID, **settings},
                              plugin_manager=plugin_manager)


class Hooks:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.updates: list[StatusUpdate] = []

    @hookimpl
    def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
        self.messages.append(message)

    @hookimpl
    def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
        self.updates.append(update)


# -- a second, imaginary provider: proves the endpoints are provider-neutral ------------------

HERON_SECRET = "heron-shared-secret-0001"


def heron_schema(*capabilities: ChannelCapability) -> ChannelSchema:
    flags = ChannelCapability.NONE
    for capability in capabilities:
        flags |= capability
    return ChannelSchema(
        provider="heron", type="sms", version="1.0.0", display_name="Heron SMS",
        capabilities=flags,
        content_types=(MessageContentType.PLAIN_TEXT,),
        endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True),),
        parameters=(ChannelParameter("Secret", required=True, sensitive=True),),
    )


class HeronConnector(Connector):
    """JSON webhooks authenticated by a shared secret header (no override of the webhook API:
    the base's defaults classify and answer)."""

    provider = "heron"
    connector_type = "sms"
    default_schema = heron_schema(ChannelCapability.RECEIVE_MESSAGES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: set[str] = set()

    def _check(self, source: MessageSource) -> ErrorInfo | None:
        if source.header("X-Heron-Secret") != self.parameters["Secret"]:
            return ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE, "bad Heron secret",
                             details={"url": source.url, "url_from": "request",
                                      "forwarded_headers": []})
        return None

    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        error = self._check(source)
        if error is not None:
            return Err(error)
        try:
            data = source.json_body()
            message = (MessageBuilder().with_id(data["id"]).from_phone(data["from"])
                       .to_phone(data["to"]).with_text(data["text"]).build())
        except (InvalidSourceData, KeyError, TypeError) as exc:
            return Err(ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                                         f"not a Heron message ({type(exc).__name__})"))
        if message.id in self.seen:
            return Ok(ReceiveResult((), is_duplicate=True))
        self.seen.add(message.id)
        return Ok(ReceiveResult((message,)))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        error = self._check(source)
        if error is not None:
            return Err(error)
        try:
            data = source.json_body()
            failure = None
            if data.get("error"):
                failure = ErrorInfo(MessagingErrorCodes.MESSAGE_ROUTING_FAILED, "undelivered",
                                    provider_code=str(data["error"]))
            key = f"{data['id']}:{data['status']}"
            duplicate = key in self.seen
            self.seen.add(key)
            status = MessageStatus.DELIVERED if data["status"] == "delivered" else (
                MessageStatus.DELIVERY_FAILED)
            return Ok(StatusUpdate(data["id"], status, data["status"], error=failure,
                                   is_duplicate=duplicate))
        except (InvalidSourceData, KeyError, TypeError, AttributeError) as exc:
            return Err(ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                                         f"not a Heron status ({type(exc).__name__})"))


class ChattyHeronConnector(HeronConnector):
    """Both kinds on one URL: classifies by the JSON ``type`` and answers JSON."""

    default_schema = heron_schema(ChannelCapability.RECEIVE_MESSAGES,
                                  ChannelCapability.HANDLE_MESSAGE_STATE)

    def classify_webhook(self, source: MessageSource) -> WebhookKind | None:
        try:
            kind = source.json_body().get("type")
        except (InvalidSourceData, AttributeError):
            return None
        return {"sms": WebhookKind.MESSAGE, "dlr": WebhookKind.STATUS}.get(kind)

    def webhook_reply(self, kind: WebhookKind, reply: object | None = None) -> WebhookReply:
        if reply is not None and not isinstance(reply, str):
            raise TypeError("a Heron handler returns reply text or None")
        body = json.dumps({"kind": kind.value, "reply": reply}).encode()
        return WebhookReply(200, body, "application/json")


def heron(cls: type[HeronConnector] = HeronConnector, **kwargs: Any) -> HeronConnector:
    return cls(settings={"Secret": HERON_SECRET}, **kwargs)


def heron_message(message_id: str = "hm-1", text: str = "Hi Heron", **more: Any) -> bytes:
    return json.dumps({"type": "sms", "id": message_id, "from": "+14155550100",
                       "to": "+15005550006", "text": text, **more}).encode()


def heron_status(message_id: str = "hm-9", status: str = "delivered", **more: Any) -> bytes:
    return json.dumps({"type": "dlr", "id": message_id, "status": status, **more}).encode()
