"""A complete small connector for the imaginary "Kestrel SMS" JSON API (the guide's example).

The API: ``POST {BaseUrl}/v1/messages`` with a bearer token sends a message and answers
``201 {"id": ..., "status": "queued"}``; ``GET {BaseUrl}/v1/messages/{id}`` gives its status;
``GET {BaseUrl}/v1/health`` answers 200 when the key works. Errors come back as
``{"error": {"code": ..., "message": ...}}``; 429 and 503 carry ``Retry-After``. Inbound messages
and status callbacks arrive as JSON webhooks.
"""

from __future__ import annotations

import json

from attrs import frozen

from ratatosk import (
    COMMON_PARAMETERS,
    AuthenticationConfiguration,
    AuthenticationField,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    Connector,
    ConnectorErrorCodes,
    ConnectorHealth,
    EndpointType,
    Err,
    ErrorInfo,
    Flow,
    Headers,
    HttpRequest,
    HttpResponse,
    InvalidSourceData,
    Message,
    MessageBuilder,
    MessageContentType,
    MessagePropertyConstraint,
    MessagePropertySchema,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    Ok,
    ParameterType,
    ReceiveResult,
    Result,
    SafeUrl,
    Secret,
    SendResult,
    StatusUpdate,
)

KESTREL_SMS = ChannelSchema(
    provider="kestrel",
    type="sms",
    version="1.0.0",
    display_name="Kestrel SMS",
    capabilities=(
        ChannelCapability.SEND_MESSAGES
        | ChannelCapability.MESSAGE_STATUS_QUERY
        | ChannelCapability.RECEIVE_MESSAGES
        | ChannelCapability.HANDLE_MESSAGE_STATE
        | ChannelCapability.HEALTH_CHECK
        | ChannelCapability.BULK_MESSAGING
        | ChannelCapability.MEDIA_ATTACHMENTS
    ),
    content_types=(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True),),
    parameters=(
        ChannelParameter("ApiKey", required=True, sensitive=True, description="Kestrel API key."),
        ChannelParameter("BaseUrl", ParameterType.URL, default="https://api.kestrel.example",
                         description="The API root (a sandbox or test server goes here)."),
        *COMMON_PARAMETERS,  # Timeout, MaxRetries, RetryBaseDelay, RetryMaxDelay, MessagesPerSecond
    ),
    message_properties=(
        MessagePropertySchema("ValidityPeriod", ParameterType.INTEGER,
                              constraints=MessagePropertyConstraint(min_value=1, max_value=14400)),
    ),
    authentication=(
        AuthenticationConfiguration("bearer", (AuthenticationField("ApiKey", "credential"),)),
    ),
)

# A preset: a restriction of the default schema (text only, send and status query).
SIMPLE_SMS = (
    KESTREL_SMS.derive(name="SimpleSms", display_name="Kestrel SMS (simple)")
    .remove_capabilities(ChannelCapability.RECEIVE_MESSAGES,
                         ChannelCapability.HANDLE_MESSAGE_STATE,
                         ChannelCapability.HEALTH_CHECK,
                         ChannelCapability.BULK_MESSAGING,
                         ChannelCapability.MEDIA_ATTACHMENTS)
    .remove_content_types(MessageContentType.MEDIA)
)

_STATUSES = {
    "queued": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "failed": MessageStatus.DELIVERY_FAILED,
}
_ERROR_CODES = {
    "bad_recipient": MessagingErrorCodes.INVALID_RECIPIENT,
    "bad_sender": MessagingErrorCodes.INVALID_SENDER,
}


DEFAULT_BASE_URL = SafeUrl("https://api.kestrel.example")  # a str whose repr masks a password


@frozen
class KestrelSettings:
    """The settings, typed: each field is the parameter of that name (``api_key`` = ``ApiKey``)."""

    api_key: Secret  # a Secret never shows its value in repr, str or logs; .reveal() reads it
    base_url: SafeUrl = DEFAULT_BASE_URL


class KestrelSmsConnector(Connector[KestrelSettings]):
    """Sends and receives SMS through the Kestrel SMS API."""

    provider = "kestrel"
    connector_type = "sms"
    default_schema = KESTREL_SMS
    presets = {"SimpleSms": SIMPLE_SMS}
    settings_type = KestrelSettings  # self.config is a KestrelSettings from setup() on

    # -- set-up: local only, from the validated and converted settings ---------------------
    def setup(self) -> Result[None]:
        self._base = self.config.base_url.rstrip("/")
        self._headers = Headers({  # built once, reused by every request
            "Authorization": f"Bearer {self.config.api_key.reveal()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        })
        return Ok(None)

    # -- flows: build a request, yield it, map the response ---------------------------------
    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        assert message.receiver is not None  # the base validated the message against the schema
        body: dict[str, object] = {"to": message.receiver.address}
        if message.sender is not None:
            body["from"] = message.sender.address
        if message.text is not None:
            body["text"] = message.text
        if message.media:
            body["media"] = [m.file_url for m in message.media]
        if "ValidityPeriod" in message.properties:
            body["validity"] = int(message.properties["ValidityPeriod"])
        response = yield HttpRequest("POST", f"{self._base}/v1/messages", self._headers,
                                     json.dumps(body).encode())
        if response.status_code != 201:
            return Err(_api_error(response, MessagingErrorCodes.SEND_MESSAGE_FAILED))
        data = response.json()
        return Ok(SendResult(message.id, data["id"], _status(data["status"]),
                                    provider_status=data["status"]))

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        response = yield HttpRequest("GET", f"{self._base}/v1/messages/{remote_id}", self._headers)
        if response.status_code != 200:
            return Err(_api_error(response, MessagingErrorCodes.MESSAGING_ERROR))
        data = response.json()
        return Ok(StatusUpdate(data["id"], _status(data["status"]), data["status"]))

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        response = yield HttpRequest("GET", f"{self._base}/v1/health", self._headers)
        if response.status_code != 200:
            return Err(_api_error(response, MessagingErrorCodes.CONNECTION_FAILED))
        return Ok(ConnectorHealth(is_healthy=True, state="ready"))

    # -- webhooks: pure parsing, no I/O -------------------------------------------------------
    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        try:
            data = source.json_body()
            items = data if isinstance(data, list) else [data]
            messages = [
                MessageBuilder().with_id(item["id"]).from_phone(item["from"])
                .to_phone(item["to"]).with_text(item["text"]).build()
                for item in items
            ]
        except (InvalidSourceData, KeyError, TypeError) as exc:
            return Err(ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                                         f"not a Kestrel message webhook ({type(exc).__name__})"))
        return Ok(ReceiveResult(tuple(messages)))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        try:
            data = source.json_body()
            return Ok(StatusUpdate(data["id"], _status(data["status"]), data["status"]))
        except (InvalidSourceData, KeyError, TypeError) as exc:
            return Err(ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                                         f"not a Kestrel status webhook ({type(exc).__name__})"))


def _status(value: str) -> MessageStatus:
    return _STATUSES.get(value, MessageStatus.UNKNOWN)


def _api_error(response: HttpResponse, default_code: str) -> ErrorInfo:
    """Map a Kestrel error response; 429 and 503 are retryable (the base retries them)."""
    try:
        error = response.json()["error"]
        provider_code, text = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        provider_code, text = None, f"HTTP {response.status_code}"
    retry_after = response.header("retry-after")
    if response.status_code == 401:
        return ErrorInfo(ConnectorErrorCodes.AUTHENTICATION_FAILED, text,
                         provider_code=provider_code)
    if response.status_code == 429:
        return ErrorInfo(MessagingErrorCodes.RATE_LIMITED, text, provider_code=provider_code,
                         retryable=True, retry_after=float(retry_after) if retry_after else None)
    code = _ERROR_CODES.get(provider_code or "", default_code)
    return ErrorInfo(code, text, provider_code=provider_code,
                     retryable=response.status_code == 503,
                     retry_after=float(retry_after) if retry_after else None)


__all__ = ["KESTREL_SMS", "SIMPLE_SMS", "KestrelSettings", "KestrelSmsConnector"]
