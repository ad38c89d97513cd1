"""The Vonage connectors: :class:`VonageMessagesConnector` (Messages API v1: SMS, MMS, WhatsApp)
and :class:`VonageSmsConnector` (the SMS API).

Both are sans-IO flows, so the async and the blocking paths share every check and mapping. What
does not change between messages (the URL, the headers, the credentials) is computed once in
``setup``.

Authentication: on the Messages API a Bearer JWT signed RS256 with the application's private key
when ApplicationId is set (the ``jwt`` extra), else HTTP Basic with ApiKey and ApiSecret, as the
official SDK chooses; form fields on the SMS API.

Both connectors receive webhooks (inbound messages, status webhooks, delivery receipts) through
:class:`~ratatosk_vonage._webhooks.VonageWebhookMixin`.
"""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from attrs import frozen

from ratatosk import (
    Connector,
    Err,
    ErrorInfo,
    Flow,
    Headers,
    HttpRequest,
    HttpResponse,
    MediaType,
    Message,
    MessageStatus,
    MessagingErrorCodes,
    Ok,
    Result,
    SafeUrl,
    Secret,
    SendResult,
    TemplateContent,
    ValidationIssue,
    parse_bool,
    parse_int,
)
from ratatosk.provider import form_encode, is_gsm7

from ._errors import map_messages_error, map_sms_status
from ._schemas import (
    DEFAULT_MESSAGES_BASE_URL,
    DEFAULT_SMS_BASE_URL,
    MESSAGES_PRESETS,
    REGION_BASE_URLS,
    SMS_PRESETS,
    VONAGE_MESSAGES,
    VONAGE_SMS,
)
from ._segments import VonageSegmentAnalysis, analyze
from ._webhooks import VonageWebhookMixin

__all__ = [
    "VonageMessagesConnector",
    "VonageMessagesSettings",
    "VonageSmsConnector",
    "VonageSmsSettings",
    "number_digits",
]

USER_AGENT = "ratatosk-messaging-vonage/0.1.0"

_DIGITS = re.compile(r"[0-9]{7,15}")
_WHATSAPP_PREFIX = "whatsapp:"
_MEDIA_KIND = {
    MediaType.IMAGE: "image",
    MediaType.AUDIO: "audio",
    MediaType.VIDEO: "video",
    MediaType.DOCUMENT: "file",
    MediaType.FILE: "file",
}
# the message types each channel takes (Messages API v1)
_CHANNEL_TYPES = {
    "sms": frozenset({"text"}),
    "mms": frozenset({"text", "image", "audio", "video", "file"}),
    "whatsapp": frozenset({"text", "image", "audio", "video", "file", "template"}),
}
_NO_CAPTION = {("whatsapp", "audio")}
_MMS_TTL = (300, 259200)


def number_digits(address: str) -> str | None:
    """The E.164 digits of ``address`` without ``+`` (and without a ``whatsapp:`` prefix), or None
    when it is not a phone number (7 to 15 digits)."""
    text = address.strip()
    if text.lower().startswith(_WHATSAPP_PREFIX):
        text = text[len(_WHATSAPP_PREFIX):]
    text = text.removeprefix("+")
    return text if _DIGITS.fullmatch(text) else None


def _sender(address: str, *, alphanumeric: bool) -> str | None:
    """The ``from`` value: digits without ``+``, or (where allowed) an alphanumeric sender id of
    up to 11 characters."""
    digits = number_digits(address)
    if digits is not None:
        return digits
    text = address.strip()
    if alphanumeric and 0 < len(text) <= 11 and text.isascii() and text.replace(" ", "").isalnum():
        return text
    return None


def _basic(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _int_property(message: Message, name: str) -> int | None:
    value = message.properties.get(name)
    if value is None:
        return None
    try:
        return parse_int(value)
    except ValueError:
        return None


def _str_property(message: Message, name: str) -> str | None:
    value = message.properties.get(name)
    return None if value is None else str(value)


def _unreadable_answer(response: HttpResponse) -> ErrorInfo:
    return ErrorInfo(
        MessagingErrorCodes.SEND_MESSAGE_FAILED,
        f"Vonage answered HTTP {response.status_code} with a body that is not the expected JSON; "
        "the message may have been accepted, so it is not sent again",
        outcome_unknown=True, details={"http_status": response.status_code})


def _application_jwt(application_id: str | None, private_key: Secret | None) -> Any:
    """The token maker for JWT authentication, or the configuration error (never quoting the
    key)."""
    issues = []
    if not application_id:
        issues.append(ValidationIssue("ApplicationId", "is required with PrivateKey", "required"))
    if private_key is None or not private_key.reveal().strip():
        issues.append(ValidationIssue("PrivateKey", "is required with ApplicationId", "required"))
    if issues:
        return ErrorInfo(MessagingErrorCodes.INVALID_CONFIGURATION,
                         "JWT authentication needs both ApplicationId and PrivateKey",
                         issues=tuple(issues))
    assert application_id is not None and private_key is not None
    try:
        from . import _jwt_auth
    except ImportError:
        return ErrorInfo(
            MessagingErrorCodes.INVALID_CONFIGURATION,
            "JWT authentication (ApplicationId) needs the cryptography package: install "
            "ratatosk-messaging-vonage[jwt], or authenticate with ApiKey and ApiSecret",
            issues=(ValidationIssue("ApplicationId", "needs the jwt extra", "dependency"),),
            details={"missing_dependency": "cryptography",
                     "install": "ratatosk-messaging-vonage[jwt]"})
    try:
        key = _jwt_auth.load_private_key(private_key.reveal())
    except _jwt_auth.PrivateKeyError as exc:
        return ErrorInfo(MessagingErrorCodes.INVALID_CONFIGURATION, str(exc),
                         issues=(ValidationIssue("PrivateKey", str(exc), "invalid"),))
    return _jwt_auth.ApplicationJwt(application_id, key)


# -- Messages API ------------------------------------------------------------------------------


@frozen
class VonageMessagesSettings:
    """The Messages API connector's settings, typed (``connector.config``): each field is the
    parameter of the same name in PascalCase (see ``VONAGE_MESSAGES.parameters``)."""

    api_key: str | None = None
    api_secret: Secret | None = None
    application_id: str | None = None
    private_key: Secret | None = None
    base_url: SafeUrl | None = None
    region: str | None = None
    channel: str | None = None
    status_callback: SafeUrl | None = None
    signature_secret: Secret | None = None
    secondary_signature_secrets: tuple[Secret, ...] = ()
    signature_method: str = "md5"
    validate_signatures: bool = True
    max_webhook_age: int = 300
    max_webhook_body_size: int = 64 * 1024
    webhook_url: SafeUrl | None = None


class VonageMessagesConnector(VonageWebhookMixin, Connector[VonageMessagesSettings]):
    """SMS, MMS and WhatsApp through Vonage's Messages API v1 (``POST /v1/messages``).

    The channel comes from the message's ``Channel`` property, else the ``Channel`` setting,
    else the message: a ``whatsapp:`` receiver or a template goes by WhatsApp, a message with
    media by MMS, anything else by SMS.
    """

    provider = "vonage"
    connector_type = "messages"
    default_for_provider = True
    default_schema = VONAGE_MESSAGES
    presets = dict(MESSAGES_PRESETS)
    settings_type = VonageMessagesSettings

    def setup(self) -> Result[None]:
        config = self.config
        root = config.base_url or REGION_BASE_URLS.get(config.region or "") \
            or DEFAULT_MESSAGES_BASE_URL
        self._url = f"{root.rstrip('/')}/v1/messages"
        common = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._jwt: Any = None
        if config.application_id or config.private_key is not None:
            signer = _application_jwt(config.application_id, config.private_key)
            if isinstance(signer, ErrorInfo):
                return Err(signer)
            self._jwt = signer
            self._headers = Headers(common)
            return Ok(None)
        if not config.api_key or config.api_secret is None:  # pragma: no cover - the schema
            return Err(ErrorInfo(  # requires a complete authentication configuration
                MessagingErrorCodes.MISSING_CREDENTIALS,
                "give ApiKey and ApiSecret, or ApplicationId and PrivateKey"))
        self._headers = Headers({
            "Authorization": _basic(config.api_key, config.api_secret.reveal()), **common})
        return Ok(None)

    @property
    def auth_scheme(self) -> str:
        """``"jwt"`` (ApplicationId and PrivateKey) or ``"basic"`` (from ``setup`` on)."""
        return "jwt" if self._jwt is not None else "basic"

    def request_headers(self) -> Headers:
        """The headers of one Messages API request: with JWT authentication a new token each
        time (its own ``jti``, ``iat`` now), as the official SDK does."""
        if self._jwt is None:
            return self._headers
        return Headers([*self._headers, ("Authorization", self._jwt.authorization())])

    @property
    def api_url(self) -> str:
        """The URL messages are posted to (from ``setup`` on)."""
        return self._url

    def _channel(self, message: Message) -> str:
        chosen = _str_property(message, "Channel") or self.config.channel
        if chosen:
            return chosen
        receiver = message.receiver.address if message.receiver is not None else ""
        if receiver.strip().lower().startswith(_WHATSAPP_PREFIX) or isinstance(
                message.content, TemplateContent):
            return "whatsapp"
        return "mms" if message.media else "sms"

    def build_body(self, message: Message) -> dict[str, Any] | list[ValidationIssue]:
        """The JSON body for ``message`` (a dict), or the problems that keep it from being sent.

        The body is the Messages API's flat form, as the ``vonage-messages`` models serialise.
        """
        issues: list[ValidationIssue] = []
        channel = self._channel(message)
        body: dict[str, Any] = {"channel": channel}

        to = number_digits(message.receiver.address) if message.receiver is not None else None
        if to is None:
            issues.append(ValidationIssue(
                "receiver", "Vonage needs a phone number of 7 to 15 digits (E.164)"))
        else:
            body["to"] = to
        if message.sender is None:
            issues.append(ValidationIssue("sender", "the Messages API needs a sender (from)"))
        else:
            sender = _sender(message.sender.address, alphanumeric=channel == "sms")
            if sender is None:
                issues.append(ValidationIssue(
                    "sender", "not a phone number" + (" or an alphanumeric sender id of up to "
                                                      "11 characters" if channel == "sms" else "")))
            else:
                body["from"] = sender

        message_type = self._content(message, channel, body, issues)
        if message_type is not None and message_type not in _CHANNEL_TYPES[channel]:
            issues.append(ValidationIssue(
                "content", f"the {channel} channel does not take {message_type} messages"))
        if message_type is not None:
            body["message_type"] = message_type

        client_ref = _str_property(message, "ClientRef")
        if client_ref is not None:
            body["client_ref"] = client_ref
        webhook_url = _str_property(message, "StatusCallback") or self.config.status_callback
        if webhook_url:
            body["webhook_url"] = str(webhook_url)
        webhook_version = _str_property(message, "WebhookVersion")
        if webhook_version is not None:
            body["webhook_version"] = webhook_version
        ttl = _int_property(message, "ValidityPeriod")
        if ttl is not None:
            if channel == "whatsapp":
                issues.append(ValidationIssue("properties.ValidityPeriod",
                                              "WhatsApp messages take no ttl"))
            elif channel == "mms" and not _MMS_TTL[0] <= ttl <= _MMS_TTL[1]:
                issues.append(ValidationIssue(
                    "properties.ValidityPeriod",
                    f"an MMS ttl is {_MMS_TTL[0]}..{_MMS_TTL[1]} seconds"))
            else:
                body["ttl"] = ttl
        encoding = _str_property(message, "EncodingType")
        if encoding is not None:
            if channel == "sms":
                body["sms"] = {"encoding_type": encoding}
            else:
                issues.append(ValidationIssue("properties.EncodingType",
                                              "only SMS messages take an encoding"))
        return issues or body

    def _content(self, message: Message, channel: str, body: dict[str, Any],
                 issues: list[ValidationIssue]) -> str | None:
        content = message.content
        if isinstance(content, TemplateContent):
            template: dict[str, Any] = {"name": content.template_id}
            if content.parameters:
                template["parameters"] = [
                    str(value) for _key, value in sorted(
                        content.parameters.items(),
                        key=lambda item: (not str(item[0]).isdigit(),
                                          int(item[0]) if str(item[0]).isdigit() else 0,
                                          str(item[0])))]
            body["template"] = template
            options: dict[str, Any] = {"locale": _str_property(message, "TemplateLocale")
                                       or "en_US"}
            policy = _str_property(message, "WhatsAppPolicy")
            if policy is not None:
                options["policy"] = policy
            body["whatsapp"] = options
            return "template"
        text = message.text
        media = message.media
        if not media:
            if text is None:
                issues.append(ValidationIssue("content", "nothing to send"))
                return None
            body["text"] = text
            return "text"
        if len(media) > 1:
            issues.append(ValidationIssue("content",
                                          "the Messages API sends one media item per message"))
            return None
        item = media[0]
        kind = _MEDIA_KIND.get(item.media_type, "file")
        if not item.file_url:
            issues.append(ValidationIssue("content", "Vonage sends media by URL (file_url)"))
            return None
        resource: dict[str, Any] = {"url": item.file_url}
        if text:
            if (channel, kind) in _NO_CAPTION:
                issues.append(ValidationIssue(
                    "content", f"{channel} {kind} messages take no caption (text)"))
            else:
                resource["caption"] = text
        if kind == "file" and channel == "whatsapp" and item.file_name:
            resource["name"] = item.file_name
        body[kind] = resource
        return kind

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        built = self.build_body(message)
        if isinstance(built, list):
            return Err(self.validation_failed(built))
        response = yield HttpRequest("POST", self._url, self.request_headers(),
                                     json.dumps(built, separators=(",", ":")).encode())
        if not 200 <= response.status_code < 300:
            return Err(map_messages_error(response))
        try:
            data = response.json()
            uuid = data["message_uuid"]
        except (ValueError, KeyError, TypeError):
            return Err(_unreadable_answer(response))
        if not isinstance(uuid, str) or not uuid:
            return Err(_unreadable_answer(response))
        extra: dict[str, Any] = {"channel": built["channel"]}
        if isinstance(data.get("workflow_id"), str):
            extra["workflow_id"] = data["workflow_id"]
        return Ok(SendResult(message.id, uuid, MessageStatus.QUEUED, provider_status="accepted",
                             additional_data=extra))


# -- SMS API -----------------------------------------------------------------------------------


_DEFAULT_SMS_BASE = SafeUrl(DEFAULT_SMS_BASE_URL)


@frozen
class VonageSmsSettings:
    """The SMS API connector's settings, typed (``connector.config``): each field is the
    parameter of the same name in PascalCase (see ``VONAGE_SMS.parameters``)."""

    api_key: str
    api_secret: Secret
    base_url: SafeUrl = _DEFAULT_SMS_BASE
    status_callback: SafeUrl | None = None
    status_report_request: bool | None = None
    signature_secret: Secret | None = None
    secondary_signature_secrets: tuple[Secret, ...] = ()
    signature_method: str = "md5"
    validate_signatures: bool = True
    max_webhook_age: int = 300
    max_webhook_body_size: int = 64 * 1024
    webhook_url: SafeUrl | None = None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


class VonageSmsConnector(VonageWebhookMixin, Connector[VonageSmsSettings]):
    """SMS through Vonage's SMS API (``POST /sms/json``, form body).

    ``type`` is ``text`` when the text fits GSM-7, else ``unicode`` (the ``EncodingType``
    property overrides it). The API answers HTTP 200 with one entry per part of a long message:
    the send succeeds only when every part's status is "0"; every part's id and price are in
    ``SendResult.additional_data["parts"]``, the first part's id is the remote message id.
    """

    provider = "vonage"
    connector_type = "sms"
    default_schema = VONAGE_SMS
    presets = dict(SMS_PRESETS)
    settings_type = VonageSmsSettings

    def setup(self) -> Result[None]:
        config = self.config
        self._url = f"{config.base_url.rstrip('/')}/sms/json"
        self._headers = Headers({
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        })
        self._credentials = [("api_key", config.api_key),
                             ("api_secret", config.api_secret.reveal())]
        return Ok(None)

    @property
    def api_url(self) -> str:
        """The URL messages are posted to (from ``setup`` on)."""
        return self._url

    def message_cost(self, message: Message) -> int:
        """The parts Vonage will send for the message's text (1 without text), charged against
        a shared rate limit."""
        estimate = self.estimate(message)
        return estimate.data.segments if estimate.data is not None else 1

    def estimate(self, message: Message) -> Result[VonageSegmentAnalysis]:
        """The ``type`` (text/unicode) and parts Vonage will send and bill for the message's
        text, honouring its ``EncodingType`` property; no request. No price: Vonage has no price
        table (a send's answer carries each part's price). A message without text gives
        ``UNSUPPORTED_CONTENT_TYPE``; ``EncodingType=text`` on a text that is not GSM-7 gives
        ``INVALID_MESSAGE``."""
        if not isinstance(message, Message):
            raise TypeError(f"estimate takes a Message, not {type(message).__name__}")
        text = message.text
        if text is None:
            return Err(ErrorInfo(MessagingErrorCodes.UNSUPPORTED_CONTENT_TYPE,
                                 "Only a message with text can be estimated."))
        encoding = _str_property(message, "EncodingType")
        try:
            return Ok(analyze(text, encoding_type=encoding))
        except ValueError as exc:
            return Err(ErrorInfo(
                MessagingErrorCodes.INVALID_MESSAGE, f"The message cannot be estimated: {exc}.",
                issues=(ValidationIssue("properties.EncodingType", str(exc)),)))

    def build_form(self, message: Message) -> list[tuple[str, str]] | list[ValidationIssue]:
        """The form fields for ``message`` without the credentials, or the problems that keep it
        from being sent."""
        issues: list[ValidationIssue] = []
        fields: list[tuple[str, str]] = []
        sender = (_sender(message.sender.address, alphanumeric=True)
                  if message.sender is not None else None)
        if sender is None:
            issues.append(ValidationIssue(
                "sender", "the SMS API needs a sender: a phone number or an alphanumeric sender "
                          "id of up to 11 characters"))
        else:
            fields.append(("from", sender))
        to = number_digits(message.receiver.address) if message.receiver is not None else None
        if to is None:
            issues.append(ValidationIssue(
                "receiver", "Vonage needs a phone number of 7 to 15 digits (E.164)"))
        else:
            fields.append(("to", to))
        text = message.text
        if text is None or message.media:
            issues.append(ValidationIssue("content", "the SMS API sends text only"))
            return issues
        fields.append(("text", text))
        encoding = _str_property(message, "EncodingType")
        fields.append(("type", encoding or ("text" if is_gsm7(text) else "unicode")))
        client_ref = _str_property(message, "ClientRef")
        if client_ref is not None:
            fields.append(("client-ref", client_ref))
        wanted = self.config.status_report_request
        report = message.properties.get("StatusReportRequest")
        if report is not None:
            try:
                wanted = parse_bool(report)
            except ValueError:
                issues.append(ValidationIssue("properties.StatusReportRequest",
                                              "not a boolean"))
                return issues
        if wanted is not None:
            fields.append(("status-report-req", "true" if wanted else "false"))
        callback = _str_property(message, "StatusCallback") or self.config.status_callback
        if callback:
            fields.append(("callback", str(callback)))
        ttl = _int_property(message, "ValidityPeriod")
        if ttl is not None:
            fields.append(("ttl", str(ttl * 1000)))
        return issues or fields

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        built = self.build_form(message)
        if built and isinstance(built[0], ValidationIssue):
            return Err(self.validation_failed(
                [i for i in built if isinstance(i, ValidationIssue)]))
        fields = [f for f in built if isinstance(f, tuple)]
        response = yield HttpRequest("POST", self._url, self._headers,
                                     form_encode([*self._credentials, *fields]).encode("ascii"))
        if response.status_code != 200:
            return Err(map_messages_error(response))
        return self._parse_answer(message, response)

    def _parse_answer(self, message: Message, response: HttpResponse) -> Result[SendResult]:
        try:
            data = response.json()
            entries = data["messages"]
            if not isinstance(entries, list) or not entries:
                raise TypeError("no messages")
            parts = [{"status": str(e["status"]), "message_id": e.get("message-id"),
                      "price": e.get("message-price"), "network": e.get("network"),
                      "remaining_balance": e.get("remaining-balance"),
                      "error_text": e.get("error-text")} for e in entries]
        except (ValueError, KeyError, TypeError, AttributeError):
            return Err(_unreadable_answer(response))
        parts = [{k: v for k, v in part.items() if v is not None} for part in parts]
        sent = [p for p in parts if p["status"] == "0"]
        failed = [p for p in parts if p["status"] != "0"]
        details: dict[str, Any] = {"message_count": len(parts), "parts": parts}
        if failed:
            first = failed[0]
            error = map_sms_status(
                first["status"], first.get("error_text"),
                retryable=not sent and first["status"] == "1", details=details)
            if sent:
                error = ErrorInfo(
                    error.code,
                    f"{error.message}; {len(sent)} of {len(parts)} parts went out, so the "
                    "message is not sent again",
                    provider_code=error.provider_code, details=details)
            return Err(error)
        prices = [_decimal(p.get("price")) for p in parts]
        extra: dict[str, Any] = {"message_count": len(parts), "parts": parts,
                                 "message_ids": [p.get("message_id") for p in parts]}
        if prices and all(p is not None for p in prices):
            extra["price"] = str(sum(p for p in prices if p is not None))
        remote_id = parts[0].get("message_id")
        return Ok(SendResult(message.id, str(remote_id) if remote_id else None,
                             MessageStatus.QUEUED, provider_status="0", additional_data=extra))
