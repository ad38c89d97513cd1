"""Acme SMS: a tiny third-party provider for Ratatosk, used by Ratatosk's own tests.

The distribution ``ratatosk-acme`` publishes this module as the entry point ``acme`` in the
``ratatosk`` group. It registers :class:`AcmeSmsConnector` (``acme/sms``) and a ``ratatosk acme
info`` command.

The Acme API (fictional, JSON over HTTP, Basic authentication ``AccountId:ApiKey``):

``POST {BaseUrl}/v1/accounts/{AccountId}/messages``
    ``{"from", "to", "text", "media": [urls], "validity": seconds}`` ->
    ``201 {"id", "status"}``; errors are ``{"error": {"code", "message"}}``.
``GET {BaseUrl}/v1/accounts/{AccountId}/messages/{id}``
    ``200 {"id", "status"}``.
``GET {BaseUrl}/v1/health``
    ``200 {"ok": true}``.
Webhooks (JSON)
    inbound ``{"id", "from", "to", "text", "media": [urls]}`` (or ``{"messages": [...]}``),
    status ``{"id", "status"}``.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from attrs import frozen

from ratatosk import COMMON_PARAMETERS as _COMMON
from ratatosk import (
    AuthenticationConfiguration,
    AuthenticationField,
    AuthenticationFieldRole,
    AuthenticationScheme,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    Connector,
    ConnectorErrorCodes,
    ConnectorHealth,
    Endpoint,
    EndpointType,
    Err,
    ErrorInfo,
    Flow,
    HttpRequest,
    HttpResponse,
    InvalidSourceData,
    MediaContent,
    MediaType,
    Message,
    MessageContentType,
    MessagePropertyConstraint,
    MessagePropertySchema,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    MultipartContent,
    Ok,
    ParameterType,
    ReceiveResult,
    Result,
    SafeUrl,
    Secret,
    SendResult,
    StatusUpdate,
    TextContent,
    hookimpl,
)

__version__ = "0.3.1"
__all__ = ["ACME_SMS", "NOTIFICATIONS", "SEND_ONLY", "AcmeSettings", "AcmeSmsConnector"]

DEFAULT_BASE_URL = "https://api.acme.test"

ACME_SMS = ChannelSchema(
    provider="acme",
    type="sms",
    version="1.0.0",
    display_name="Acme SMS",
    description="SMS and MMS through the Acme JSON API.",
    capabilities=(
        ChannelCapability.SEND_MESSAGES
        | ChannelCapability.MESSAGE_STATUS_QUERY
        | ChannelCapability.RECEIVE_MESSAGES
        | ChannelCapability.HANDLE_MESSAGE_STATE
        | ChannelCapability.MEDIA_ATTACHMENTS
        | ChannelCapability.BULK_MESSAGING
        | ChannelCapability.HEALTH_CHECK
    ),
    content_types=(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA,
                   MessageContentType.MULTIPART),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True,
                               required=True),),
    parameters=(
        ChannelParameter("AccountId", required=True, pattern=r"^acc_[A-Za-z0-9]+$",
                         description="The Acme account id (acc_...)."),
        ChannelParameter("ApiKey", required=True, sensitive=True,
                         description="The account's API key."),
        ChannelParameter("BaseUrl", ParameterType.URL, default=DEFAULT_BASE_URL,
                         description="The API root (a sandbox or test server goes here)."),
        ChannelParameter("DefaultSender", description="The sender used when a message has none."),
        *_COMMON,
    ),
    message_properties=(
        MessagePropertySchema("ValidityPeriod", ParameterType.INTEGER,
                              description="Seconds the message may wait for delivery.",
                              constraints=MessagePropertyConstraint(min_value=1,
                                                                    max_value=86400)),
    ),
    authentication=(
        AuthenticationConfiguration(
            AuthenticationScheme.BASIC,
            (AuthenticationField("AccountId", AuthenticationFieldRole.PRINCIPAL),
             AuthenticationField("ApiKey", AuthenticationFieldRole.CREDENTIAL)),
            "HTTP Basic with the account id and API key",
        ),
    ),
)
"""Everything the Acme connector does."""

SEND_ONLY = (
    ACME_SMS.derive(name="SendOnly", display_name="Acme SMS (send only)")
    .remove_capabilities(ChannelCapability.MESSAGE_STATUS_QUERY,
                         ChannelCapability.RECEIVE_MESSAGES,
                         ChannelCapability.HANDLE_MESSAGE_STATE,
                         ChannelCapability.MEDIA_ATTACHMENTS,
                         ChannelCapability.BULK_MESSAGING,
                         ChannelCapability.HEALTH_CHECK)
    .remove_content_types(MessageContentType.MEDIA, MessageContentType.MULTIPART)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
)
"""Plain-text sending only."""

NOTIFICATIONS = (
    ACME_SMS.derive(name="Notifications", display_name="Acme SMS notifications")
    .remove_capabilities(ChannelCapability.RECEIVE_MESSAGES,
                         ChannelCapability.MEDIA_ATTACHMENTS)
    .remove_content_types(MessageContentType.MEDIA, MessageContentType.MULTIPART)
    .restrict_message_property("ValidityPeriod", max_value=3600)
)
"""Text notifications with delivery tracking; validity at most an hour."""

_STATUSES: Mapping[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "failed": MessageStatus.DELIVERY_FAILED,
    "received": MessageStatus.RECEIVED,
}

_ERRORS_BY_CODE: Mapping[str, str] = {
    "invalid_number": MessagingErrorCodes.INVALID_RECIPIENT,
    "invalid_sender": MessagingErrorCodes.INVALID_SENDER,
    "too_long": MessagingErrorCodes.MESSAGE_TOO_LARGE,
}


def _error(code: str, message: str, **kwargs: Any) -> ErrorInfo:
    return ErrorInfo(code=code, message=message, **kwargs)  # the domain follows from the code


def _status(value: Any) -> MessageStatus:
    return _STATUSES.get(str(value).lower(), MessageStatus.UNKNOWN)


def _retry_after(response: HttpResponse) -> float | None:
    raw = response.header("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _api_error(response: HttpResponse, default_code: str, operation: str) -> ErrorInfo:
    """Map an Acme error response (never echoing request data, so never a secret)."""
    provider_code: str | None = None
    text = f"HTTP {response.status_code}"
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            provider_code = str(error.get("code")) if error.get("code") is not None else None
            if isinstance(error.get("message"), str):
                text = f"{text}: {error['message']}"
    except ValueError:
        pass
    status = response.status_code
    if status in (401, 403):
        code = MessagingErrorCodes.INVALID_CREDENTIALS
    elif status == 429:
        code = MessagingErrorCodes.RATE_LIMITED
    elif provider_code is not None and provider_code in _ERRORS_BY_CODE:
        code = _ERRORS_BY_CODE[provider_code]
    elif status == 400:
        code = MessagingErrorCodes.INVALID_MESSAGE
    else:
        code = default_code
    return _error(code, f"Acme rejected {operation} ({text})", provider_code=provider_code,
                  retryable=status in (429, 503), retry_after=_retry_after(response))


_DEFAULT_BASE = SafeUrl(DEFAULT_BASE_URL)


@frozen
class AcmeSettings:
    """The Acme connector's settings, typed (``connector.config``): ``account_id`` is the
    ``AccountId`` parameter, ``api_key`` the ``ApiKey``..."""

    account_id: str
    api_key: Secret
    base_url: SafeUrl = _DEFAULT_BASE
    default_sender: str | None = None


class AcmeSmsConnector(Connector[AcmeSettings]):
    """Sends SMS/MMS through the Acme API; parses Acme's JSON webhooks."""

    settings_type = AcmeSettings
    provider: ClassVar[str] = "acme"
    connector_type: ClassVar[str] = "sms"
    default_schema: ClassVar[ChannelSchema] = ACME_SMS
    presets: ClassVar[Mapping[str, ChannelSchema]] = {
        "SendOnly": SEND_ONLY,
        "Notifications": NOTIFICATIONS,
    }
    default_for_provider: ClassVar[bool] = True

    _base: str = ""
    _headers: tuple[tuple[str, str], ...] = ()

    def setup(self) -> Result[None]:
        config = self.config
        self._base = config.base_url.rstrip("/")
        pair = f"{config.account_id}:{config.api_key.reveal()}".encode()
        self._headers = (
            ("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")),
            ("Accept", "application/json"),
        )
        return Ok(None)

    def _messages_url(self) -> str:
        return f"{self._base}/v1/accounts/{self.config.account_id}/messages"

    # -- sending ---------------------------------------------------------------------------
    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        sender = message.sender.address if message.sender else self.config.default_sender
        if not sender:
            return Err(_error(MessagingErrorCodes.MISSING_SENDER,
                                       "the message has no sender and DefaultSender is not set"))
        assert message.receiver is not None  # validated by the base against the schema
        payload: dict[str, Any] = {"from": sender, "to": message.receiver.address}
        if message.text is not None:
            payload["text"] = message.text
        media = [m.file_url for m in message.media if m.file_url]
        if media:
            payload["media"] = media
        validity = message.properties.get("ValidityPeriod")
        if validity is not None:
            payload["validity"] = int(validity)
        request = HttpRequest(
            "POST", self._messages_url(),
            (*self._headers, ("Content-Type", "application/json"),
             ("Idempotency-Key", message.id)),
            json.dumps(payload).encode(),
        )
        response = yield request
        if response.status_code not in (200, 201, 202):
            return Err(_api_error(response, MessagingErrorCodes.SEND_MESSAGE_FAILED,
                                           "the message"))
        try:
            body = response.json()
            remote_id = str(body["id"])
            provider_status = str(body.get("status", "accepted"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return Err(_error(MessagingErrorCodes.SEND_MESSAGE_FAILED,
                                       "Acme answered with an unreadable body",
                                       outcome_unknown=True))
        return Ok(SendResult(message.id, remote_id, _status(provider_status),
                                      provider_status=provider_status))

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        response = yield HttpRequest("GET", f"{self._messages_url()}/{remote_id}", self._headers)
        if response.status_code != 200:
            return Err(_api_error(response, ConnectorErrorCodes.GET_STATUS_ERROR,
                                           "the status query"))
        try:
            body = response.json()
            provider_status = str(body["status"])
        except (ValueError, KeyError, TypeError):
            return Err(_error(ConnectorErrorCodes.GET_STATUS_ERROR,
                                       "Acme answered the status query with an unreadable body"))
        return Ok(StatusUpdate(remote_id, _status(provider_status), provider_status))

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        response = yield HttpRequest("GET", f"{self._base}/v1/health", self._headers)
        if response.status_code != 200:
            return Err(_api_error(response, MessagingErrorCodes.CONNECTION_FAILED,
                                           "the health check"))
        return Ok(ConnectorHealth(is_healthy=True, state="ready"))

    # -- webhooks --------------------------------------------------------------------------
    @staticmethod
    def _json_object(source: MessageSource) -> dict[str, Any] | ErrorInfo:
        try:
            body = source.json_body()
        except InvalidSourceData as exc:
            return _error(MessagingErrorCodes.INVALID_WEBHOOK_DATA, str(exc))
        if not isinstance(body, dict):
            return _error(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                          "the webhook body is not a JSON object")
        return body

    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        body = self._json_object(source)
        if isinstance(body, ErrorInfo):
            return Err(body)
        items = body.get("messages", [body])
        if not isinstance(items, list):
            return Err(_error(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                                       "'messages' is not a list"))
        messages: list[Message] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("id", "from", "to")
            ):
                return Err(_error(
                    MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                    f"inbound message {index} needs string fields id, from and to"))
            parts: list[Any] = []
            if isinstance(item.get("text"), str):
                parts.append(TextContent(item["text"]))
            parts += [MediaContent(MediaType.IMAGE, None, url) for url in item.get("media", [])
                      if isinstance(url, str)]
            content = parts[0] if len(parts) == 1 else (MultipartContent(parts) if parts else None)
            messages.append(Message(id=item["id"], sender=Endpoint.phone(item["from"]),
                                    receiver=Endpoint.phone(item["to"]), content=content))
        return Ok(ReceiveResult(messages))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        body = self._json_object(source)
        if isinstance(body, ErrorInfo):
            return Err(body)
        if not isinstance(body.get("id"), str) or not isinstance(body.get("status"), str):
            return Err(_error(MessagingErrorCodes.INVALID_WEBHOOK_DATA,
                                       "a status callback needs string fields id and status"))
        return Ok(StatusUpdate(body["id"], _status(body["status"]), body["status"]))


# -- plugin hooks ---------------------------------------------------------------------------


@hookimpl
def ratatosk_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Offer the Acme SMS connector."""
    register(AcmeSmsConnector)


def _run_info(args: argparse.Namespace) -> int:
    schema = AcmeSmsConnector.presets[args.preset] if args.preset else ACME_SMS
    print(f"acme {__version__}: {schema.identity} ({schema.name or 'default'})")
    return 0


@hookimpl
def ratatosk_register_commands(cli: Any) -> None:
    """Add ``ratatosk acme info``."""
    group = cli.add_group("acme", help="Acme SMS tools")
    group.add_command(
        "info", help="Show the Acme plugin's version and schema", run=_run_info,
        configure=lambda parser: parser.add_argument("--preset", choices=sorted(
            AcmeSmsConnector.presets)),
    )
