"""The Twilio connectors: :class:`TwilioSmsConnector` (SMS and MMS) and
:class:`TwilioWhatsAppConnector`.

Both talk to Twilio's Messages API (``/2010-04-01/Accounts/{AccountSid}/Messages.json``) through
sans-IO flows, so the async and the blocking paths share every check and mapping. Everything that
does not change between messages (URLs, the ``Authorization`` header, fixed form fields and
connection-level defaults) is computed once in ``setup``; a send then only validates the
message and encodes its own fields.

Webhook handling (``receive_messages`` / ``receive_message_status``) comes from
:class:`~ratatosk_twilio._webhooks.TwilioWebhookMixin`.
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from attrs import frozen

from ratatosk import (
    ChannelCapability,
    ChannelSchema,
    Connector,
    ConnectorHealth,
    Err,
    ErrorCode,
    ErrorInfo,
    Flow,
    Headers,
    HttpRequest,
    HttpResponse,
    MediaContent,
    Message,
    MessagingErrorCodes,
    MultipartContent,
    Ok,
    Operation,
    Result,
    SafeUrl,
    Secret,
    SendResult,
    StatusUpdate,
    TemplateContent,
    TextContent,
    ValidationIssue,
    operation,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_int,
)
from ratatosk.provider import form_encode, form_quote

from ._errors import ApiCall, TwilioErrorCodes, map_api_error
from ._schemas import (
    ACCOUNT_SID_PATTERN,
    CONTENT_SID_PATTERN,
    DEFAULT_BASE_URL,
    MESSAGE_SID_PATTERN,
    SMS_PRESETS,
    TWILIO_SMS,
    TWILIO_WHATSAPP,
    WHATSAPP_PRESETS,
)
from ._status import map_twilio_status
from ._webhooks import TwilioWebhookMixin, callback_error

if TYPE_CHECKING:  # the segment calculator (and its tables) loads on the first estimate()
    from ._segments import SegmentAnalysis

__all__ = [
    "MAX_BODY_LENGTH",
    "MAX_MEDIA",
    "TwilioConnectorBase",
    "TwilioSettings",
    "TwilioSmsConnector",
    "TwilioWhatsAppConnector",
    "build_api_root",
]

MAX_BODY_LENGTH = 1600
"""Twilio's limit on a message body, in characters (error 21617 above it)."""
MAX_MEDIA = 10
"""Twilio's limit on MediaUrl values per message (error 21623 above it)."""

API_VERSION = "2010-04-01"
USER_AGENT = "ratatosk-messaging-twilio/0.1.0"

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 +\-_.&]{1,11}")
_MESSAGE_SID = re.compile(MESSAGE_SID_PATTERN)
_CONTENT_SID = re.compile(CONTENT_SID_PATTERN)
_ACCOUNT_SID = re.compile(ACCOUNT_SID_PATTERN)
_WHATSAPP_PREFIX = "whatsapp:"

_M = MessagingErrorCodes
_T = TwilioErrorCodes


# Form bodies: the core's form_encode (urllib.parse.urlencode's result, faster); the old private
# names stay for the tests that compare them with the standard library.
_form_quote = form_quote
_form_encode = form_encode


def build_api_root(base_url: str | None, region: str | None, edge: str | None) -> str:
    """The API root: ``base_url`` as given, or Twilio's host for a region and edge.

    With a region and/or edge the host is ``api.{edge}.{region}.twilio.com`` (the region defaults
    to ``us1`` when only an edge is given; without an edge it is ``api.{region}.twilio.com``).
    """
    if region or edge:
        region = region or "us1"
        host = f"api.{edge}.{region}.twilio.com" if edge else f"api.{region}.twilio.com"
        return f"https://{host}"
    return (base_url or DEFAULT_BASE_URL).rstrip("/")


# Message properties and settings are read with the framework's one value parser
# (ratatosk.parse_bool, parse_int, ...); these give Twilio's form encoding, or None when the value
# does not convert.
def _bool_text(value: Any) -> str | None:
    """``"true"``/``"false"`` for a boolean (or its text form), None when it is not one."""
    try:
        return "true" if parse_bool(value) else "false"
    except ValueError:
        return None


def _int_text(value: Any) -> str | None:
    try:
        return str(parse_int(value))
    except ValueError:
        return None


def _decimal_text(value: Any) -> str | None:
    try:
        return format(parse_decimal(value), "f")
    except ValueError:
        return None


def _datetime_text(value: Any) -> str | None:
    """ISO 8601 in UTC (``2024-05-01T12:00:00Z``) for an aware datetime or ISO text, else None."""
    try:
        when = parse_datetime(value)
    except ValueError:
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        return None
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_url(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _rfc2822(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _optional_int(value: Any) -> int | None:
    text = _int_text(value)
    return int(text) if text is not None else None


def _json_object(response: HttpResponse) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# A problem found before any request: (domain, code, issue)
_Problem = tuple[ErrorCode, ValidationIssue]

_SEND_KEYS = ("account_sid", "messaging_service_sid", "num_segments", "num_media", "direction",
              "date_created", "price", "price_unit")
_STATUS_KEYS = ("account_sid", "messaging_service_sid", "num_media", "direction", "to", "from",
                "error_message", "api_version")

# message properties whose value is encoded as a boolean / integer / text / enum
_BOOLEAN_PROPERTIES = ("SmartEncoded", "ShortenUrls", "SendAsMms")
_INTEGER_PROPERTIES = ("ValidityPeriod", "Attempt")
_TEXT_PROPERTIES = ("ScheduleType", "ContentRetention", "AddressRetention", "RiskCheck")
_HANDLED_PROPERTIES = frozenset({
    *_BOOLEAN_PROPERTIES, *_INTEGER_PROPERTIES, *_TEXT_PROPERTIES, "MaxPrice", "StatusCallback",
    "ProvideCallback", "SendAt", "PersistentAction",
})


_DEFAULT_BASE = SafeUrl(DEFAULT_BASE_URL)


@frozen
class TwilioSettings:
    """The Twilio connectors' settings, typed and converted (``connector.config``).

    Each field is the parameter of the same name in PascalCase (``account_sid`` is
    ``AccountSid``); see the schema (``TWILIO_SMS.parameters``) for what each one means.
    """

    account_sid: str = ""
    auth_token: Secret | None = None
    api_key_sid: str | None = None
    api_key_secret: Secret | None = None
    messaging_service_sid: str | None = None
    base_url: SafeUrl = _DEFAULT_BASE
    region: str | None = None
    edge: str | None = None
    status_callback: str | None = None
    webhook_url: str | None = None
    secondary_auth_tokens: tuple[Secret, ...] = ()
    validate_signatures: bool = True
    trust_forwarded_headers: bool = False
    max_webhook_body_size: int = 64 * 1024
    validity_period: int | None = None
    max_price: Decimal | None = None
    smart_encoded: bool | None = None


class TwilioConnectorBase(TwilioWebhookMixin, Connector[TwilioSettings]):
    """What the SMS and WhatsApp connectors share: settings, requests, responses, errors.

    Not registered itself; use :class:`TwilioSmsConnector` or :class:`TwilioWhatsAppConnector`.
    """

    provider: ClassVar[str] = "twilio"
    settings_type = TwilioSettings
    whatsapp: ClassVar[bool] = False
    """Whether addresses are WhatsApp channel addresses (``whatsapp:+E164``)."""

    _send_operation: ClassVar[ApiCall] = ApiCall.SEND
    _status_operation: ClassVar[ApiCall] = ApiCall.STATUS
    _status_failure: ClassVar[ErrorCode] = TwilioErrorCodes.STATUS_QUERY_FAILED

    # set by setup
    _account_sid: str
    _api_root: str
    _account_url: str
    _messages_url: str
    _message_prefix: str
    _get_headers: Headers
    _post_headers: Headers
    _service_sid: str | None
    _status_callback: str | None
    _webhook_url: str | None
    _default_fields: dict[str, str]
    _fixed_body: str
    _default_body: str

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> Result[None]:
        """Check what the schema cannot (credentials, Region/Edge/BaseUrl) and precompute the
        URLs, headers and fixed form fields every request uses."""
        config = self.config
        problems: list[ValidationIssue] = []
        missing_credentials = False
        account_sid = config.account_sid
        if not _ACCOUNT_SID.fullmatch(account_sid):  # a flexible schema might not check it
            problems.append(ValidationIssue(
                "AccountSid", "The AccountSid parameter must be AC followed by 32 hex digits.",
                "pattern"))
        token = config.auth_token
        key_sid, key_secret = config.api_key_sid, config.api_key_secret
        user = secret = ""
        if key_sid or key_secret:
            if not (key_sid and key_secret):
                field_name = "ApiKeySecret" if key_sid else "ApiKeySid"
                problems.append(ValidationIssue(
                    field_name, "ApiKeySid and ApiKeySecret must be given together.", "required"))
            else:
                user, secret = key_sid, key_secret.reveal()
        elif token:
            user, secret = account_sid, token.reveal()
        else:
            missing_credentials = True
            problems.append(ValidationIssue(
                "AuthToken", "Give AuthToken, or ApiKeySid and ApiKeySecret.", "required"))
        region, edge = config.region, config.edge
        base_url = config.base_url or DEFAULT_BASE_URL
        if (region or edge) and base_url.rstrip("/") != DEFAULT_BASE_URL:
            problems.append(ValidationIssue(
                "BaseUrl", "BaseUrl and Region/Edge both choose the API host; give one of them.",
                "conflict"))
        if problems:
            if missing_credentials and len(problems) == 1:
                return Err(ErrorInfo(
                    code=_M.MISSING_CREDENTIALS,
                    message="No Twilio credentials: give AuthToken, or ApiKeySid and "
                            "ApiKeySecret.", issues=tuple(problems)))
            count = len(problems)
            return Err(ErrorInfo(
                code=_T.INVALID_CONNECTION_SETTINGS,
                message=f"The Twilio connection settings are not valid ({count} problem"
                        f"{'s' if count != 1 else ''}).",
                issues=tuple(problems)))

        root = build_api_root(base_url, region, edge)
        account = f"{root}/{API_VERSION}/Accounts/{account_sid}"
        self._account_sid = account_sid
        self._api_root = root
        self._account_url = account + ".json"
        self._messages_url = account + "/Messages.json"
        self._message_prefix = account + "/Messages/"
        credentials = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        # built once, reused by every request (Headers' repr masks Authorization)
        common = (("Authorization", "Basic " + credentials), ("Accept", "application/json"),
                  ("User-Agent", USER_AGENT))
        self._get_headers = Headers(common)
        self._post_headers = Headers(
            (*common, ("Content-Type", "application/x-www-form-urlencoded")))

        self._service_sid = config.messaging_service_sid or None
        self._status_callback = config.status_callback or None
        self._webhook_url = config.webhook_url or None
        defaults: dict[str, str] = {}
        if config.validity_period is not None:
            defaults["ValidityPeriod"] = str(config.validity_period)
        if config.max_price is not None:
            defaults["MaxPrice"] = format(config.max_price, "f")
        if config.smart_encoded is not None:
            defaults["SmartEncoded"] = "true" if config.smart_encoded else "false"
        self._default_fields = defaults
        fixed = [("MessagingServiceSid", self._service_sid)] if self._service_sid else []
        self._fixed_body = form_encode(fixed)
        tail = list(defaults.items())
        if self._status_callback:
            tail.append(("StatusCallback", self._status_callback))
        self._default_body = form_encode(fixed + tail)
        return Ok(None)

    # -- public extras -----------------------------------------------------------------------
    @operation
    def cancel_message(self, remote_id: str) -> Operation[StatusUpdate]:
        """Cancel a scheduled message (``Status=canceled``) by its SID.

        Only messages Twilio has not sent yet (status ``scheduled``) can be canceled; Twilio's
        refusal (e.g. error 30409) comes back as a ``MESSAGING_ERROR`` result with its code.
        Needs the SEND_MESSAGES capability. ``connector.blocking().cancel_message(sid)`` is the
        same operation, blocking.
        """
        if not isinstance(remote_id, str):
            raise TypeError(f"remote_id must be a string, not {type(remote_id).__name__}")
        error = self.check_ready(ChannelCapability.SEND_MESSAGES, "cancel_message")
        if error is not None:
            return Err(error)
        return (yield from self.run_flow(self._cancel_flow, remote_id, operation="cancel_message",
                                         failure=_M.MESSAGING_ERROR))

    # -- flows -------------------------------------------------------------------------------
    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        """Fetch the account (``GET /2010-04-01/Accounts/{AccountSid}.json``)."""
        response = yield HttpRequest("GET", self._account_url, self._get_headers)
        if not response.is_success:
            return Err(map_api_error(response, ApiCall.ACCOUNT))
        data = _json_object(response)
        if data is None:
            return Err(ErrorInfo(
                code=_T.STATUS_ERROR,
                message="Twilio's account answer is not a JSON object",
                details={"http_status": response.status_code}))
        status = data.get("status")
        healthy = status == "active"
        issues = () if healthy else (f"the Twilio account is {status or 'in an unknown state'}",)
        details = {k: data[k] for k in ("sid", "status", "type", "friendly_name") if k in data}
        return Ok(ConnectorHealth(
            is_healthy=healthy, state=self.state.value, issues=issues,
            details={f"account_{k}" if k != "friendly_name" else k: v
                     for k, v in details.items()}))

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        """Create the message (``POST .../Messages.json``)."""
        prepared = self._prepare(message)
        if isinstance(prepared, ErrorInfo):
            return Err(prepared)
        response = yield prepared
        return self._parse_send(message, response)

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        """Fetch the message (``GET .../Messages/{Sid}.json``)."""
        sid = remote_id.strip()
        if not _MESSAGE_SID.fullmatch(sid):
            return Err(self._bad_sid(sid, self._status_failure))
        response = yield HttpRequest("GET", f"{self._message_prefix}{sid}.json",
                                     self._get_headers)
        if not response.is_success:
            return Err(map_api_error(response, self._status_operation))
        return self._parse_status(sid, response, self._status_failure)

    def _cancel_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        """Cancel a scheduled message (``POST .../Messages/{Sid}.json`` with Status=canceled)."""
        sid = remote_id.strip()
        if not _MESSAGE_SID.fullmatch(sid):
            return Err(self._bad_sid(sid, _M.MESSAGING_ERROR))
        response = yield HttpRequest("POST", f"{self._message_prefix}{sid}.json",
                                     self._post_headers, b"Status=canceled", idempotent=True)
        if not response.is_success:
            return Err(map_api_error(response, ApiCall.CANCEL))
        return self._parse_status(sid, response, _M.MESSAGING_ERROR)

    # -- request building --------------------------------------------------------------------
    def _prepare(self, message: Message) -> HttpRequest | ErrorInfo:
        """The create request for ``message``, or the error found before sending anything."""
        problems: list[_Problem] = []
        pairs: list[tuple[str, str]] = []
        receiver = message.receiver
        if receiver is None:  # the schema check catches this first
            problems.append((_M.INVALID_RECIPIENT,
                             ValidationIssue("receiver", "The message has no receiver.",
                                             "required")))
        else:
            to = self._recipient(receiver.address, problems)
            if to is not None:
                pairs.append(("To", to))
        sender = message.sender
        if sender is not None:
            sender_address = self._sender(sender.address, problems)
            # with a Messaging Service configured the service picks the sender: From is not sent
            if sender_address is not None and self._service_sid is None:
                pairs.append(("From", sender_address))
        elif self._service_sid is None:
            problems.append((_T.MISSING_FROM_NUMBER, ValidationIssue(
                "sender", "The message has no sender and no MessagingServiceSid is configured.",
                "required")))
        self._content(message, pairs, problems)
        properties = message.properties
        tail = self._properties(properties, problems) if properties else self._default_body
        if problems:
            return self._local_error(problems)
        body = _form_encode(pairs)
        if tail:
            body = f"{body}&{tail}"
        return HttpRequest("POST", self._messages_url, self._post_headers, body.encode("ascii"))

    def _recipient(self, address: str, problems: list[_Problem]) -> str | None:
        address = address.strip()
        if _E164.fullmatch(address):
            return address
        hint = (" (WhatsApp addresses go through the twilio/whatsapp connector)"
                if address.lower().startswith(_WHATSAPP_PREFIX) else "")
        problems.append((_M.INVALID_RECIPIENT, ValidationIssue(
            "receiver", f"{address!r} is not an E.164 phone number such as +15550002222{hint}.",
            "format")))
        return None

    def _sender(self, address: str, problems: list[_Problem]) -> str | None:
        address = address.strip()
        if (_E164.fullmatch(address) or _SHORT_CODE.fullmatch(address)
                or _ALPHA_SENDER.fullmatch(address)):
            return address
        problems.append((_T.INVALID_SENDER, ValidationIssue(
            "sender", f"{address!r} is not an E.164 phone number, a short code or an "
                      "alphanumeric sender ID.", "format")))
        return None

    def _content(
        self, message: Message, pairs: list[tuple[str, str]], problems: list[_Problem]
    ) -> None:
        content = message.content
        texts: list[str] = []
        media: list[MediaContent] = []
        templates: list[TemplateContent] = []
        parts = content.parts if isinstance(content, MultipartContent) else (content,)
        for part in parts:
            if isinstance(part, TextContent):
                texts.append(part.text)
            elif isinstance(part, MediaContent):
                media.append(part)
            elif isinstance(part, TemplateContent):
                templates.append(part)
            elif part is None:
                problems.append((_M.INVALID_MESSAGE, ValidationIssue(
                    "content", "The message has no content.", "required")))
            else:
                problems.append((_M.UNSUPPORTED_CONTENT_TYPE, ValidationIssue(
                    "content", f"Twilio cannot send {part.kind.value.replace('_', ' ')} "
                               "content.", "unsupported_content")))
        if texts:
            body = texts[0] if len(texts) == 1 else "\n".join(texts)
            if len(body) > MAX_BODY_LENGTH:
                problems.append((_M.MESSAGE_TOO_LARGE, ValidationIssue(
                    "content", f"The body has {len(body)} characters; Twilio accepts at most "
                               f"{MAX_BODY_LENGTH}.", "max_length")))
            pairs.append(("Body", body))
        if media:
            if len(media) > MAX_MEDIA:
                problems.append((_M.INVALID_MESSAGE, ValidationIssue(
                    "content", f"The message has {len(media)} media attachments; Twilio accepts "
                               f"at most {MAX_MEDIA}.", "max_items")))
            for index, item in enumerate(media):
                url = item.file_url
                if url is None:
                    problems.append((_M.INVALID_MESSAGE, ValidationIssue(
                        f"media[{index}]", "Twilio fetches media from a URL; inline data cannot "
                                           "be sent.", "required")))
                elif not _http_url(url):
                    problems.append((_M.INVALID_MESSAGE, ValidationIssue(
                        f"media[{index}]", f"The media URL {url!r} is not an absolute http(s) "
                                           "URL.", "format")))
                else:
                    pairs.append(("MediaUrl", url))
        if templates:
            if len(templates) > 1:
                problems.append((_M.INVALID_MESSAGE, ValidationIssue(
                    "content", "A message can use one template only.", "max_items")))
            template = templates[0]
            sid = template.template_id.strip()
            if not _CONTENT_SID.fullmatch(sid):
                shown = f"{sid!r} is not" if sid else "an empty template id is not"
                problems.append((_T.MISSING_CONTENT_SID, ValidationIssue(
                    "content.template_id", f"The template needs a Content SID (HX followed by 32 "
                                           f"hex digits); {shown} one.", "format")))
            else:
                pairs.append(("ContentSid", sid))
                if template.parameters:
                    variables = {str(k): v if isinstance(v, str) else str(v)
                                 for k, v in template.parameters.items()}
                    pairs.append(("ContentVariables",
                                  json.dumps(variables, ensure_ascii=False,
                                             separators=(",", ":"))))

    def _properties(self, properties: Mapping[str, Any], problems: list[_Problem]) -> str:
        """The encoded tail of the form: connection defaults overridden by the properties."""
        fields: dict[str, str] = dict(self._default_fields)
        extra: list[tuple[str, str]] = []

        def bad(name: str, text: str, code: str = "invalid") -> None:
            problems.append((_T.INVALID_MESSAGE,
                             ValidationIssue(f"properties.{name}", text, code)))

        for name in _BOOLEAN_PROPERTIES:
            if properties.get(name) is not None:
                value = _bool_text(properties[name])
                if value is None:
                    bad(name, f"The {name} property must be true or false.", "type")
                else:
                    fields[name] = value
        for name in _INTEGER_PROPERTIES:
            if properties.get(name) is not None:
                value = _int_text(properties[name])
                if value is None:
                    bad(name, f"The {name} property must be a whole number.", "type")
                else:
                    fields[name] = value
        for name in _TEXT_PROPERTIES:
            raw = properties.get(name)
            if raw is not None:
                if isinstance(raw, str) and raw.strip():
                    fields[name] = raw.strip()
                else:
                    bad(name, f"The {name} property must be text.", "type")
        if properties.get("MaxPrice") is not None:
            value = _decimal_text(properties["MaxPrice"])
            if value is None:
                bad("MaxPrice", "The MaxPrice property must be a number.", "type")
            else:
                fields["MaxPrice"] = value

        # scheduling: SendAt and ScheduleType=fixed go together, through a Messaging Service
        send_at = properties.get("SendAt")
        if send_at is not None:
            when = _datetime_text(send_at)
            if when is None:
                bad("SendAt", "The SendAt property must be a date and time with a time zone "
                              "(ISO 8601, e.g. 2024-05-01T12:00:00Z).", "type")
            else:
                fields["SendAt"] = when
            fields.setdefault("ScheduleType", "fixed")
        elif "ScheduleType" in fields:
            bad("ScheduleType", "ScheduleType needs SendAt (when to send the message).",
                "required")
        if send_at is not None and self._service_sid is None:
            bad("SendAt", "Scheduled messages need a MessagingServiceSid.", "requires_service")
        if fields.get("ShortenUrls") == "true" and self._service_sid is None:
            bad("ShortenUrls", "Link shortening needs a MessagingServiceSid.", "requires_service")

        # status callbacks
        callback = properties.get("StatusCallback")
        if callback is not None and not _http_url(callback):
            bad("StatusCallback", "The StatusCallback property must be an http(s) URL.", "type")
            callback = None
        provide = properties.get("ProvideCallback")
        provide_text = _bool_text(provide) if provide is not None else None
        if provide is not None and provide_text is None:
            bad("ProvideCallback", "The ProvideCallback property must be true or false.", "type")
        if provide_text == "false":
            if callback is not None:
                bad("ProvideCallback", "ProvideCallback=false contradicts the message's "
                                       "StatusCallback.", "conflict")
        else:
            target = callback or self._status_callback
            if provide_text == "true":
                target = target or self._webhook_url
                if target is None:
                    bad("ProvideCallback", "ProvideCallback needs a StatusCallback (on the "
                                           "message or in the settings) or a WebhookUrl.",
                        "required")
            if target:
                fields["StatusCallback"] = str(target)

        action = properties.get("PersistentAction")
        if action is not None:
            actions = self._actions(action)
            if actions is None:
                bad("PersistentAction", "The PersistentAction property must be text or a list "
                                        "of texts.", "type")
            else:
                extra.extend(("PersistentAction", a) for a in actions)

        # properties a flexible schema passes on: sent as they are
        for name, value in properties.items():
            if name not in _HANDLED_PROPERTIES and value is not None:
                extra.append((name, value if isinstance(value, str) else json.dumps(value)
                               if isinstance(value, (dict, list)) else str(value)))

        tail = [*([("MessagingServiceSid", self._service_sid)] if self._service_sid else []),
                *fields.items(), *extra]
        return _form_encode(tail)

    @staticmethod
    def _actions(value: Any) -> list[str] | None:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    return None
            else:
                return [value] if text else None
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, str) and v.strip() for v in value):
            return list(value)
        return None

    def _local_error(self, problems: list[_Problem]) -> ErrorInfo:
        code, _ = problems[0]
        issues = tuple(issue for _, issue in problems)
        summary = "; ".join(issue.message for issue in issues[:3])
        if len(issues) > 3:
            summary += f"; and {len(issues) - 3} more"
        return ErrorInfo(code=code, message=f"The message was not sent: {summary}", issues=issues)

    def _bad_sid(self, sid: str, code: ErrorCode) -> ErrorInfo:
        return ErrorInfo(
            code=code,
            message=f"{sid!r} is not a Twilio message SID (SM or MM followed by 32 hex digits)",
            issues=(ValidationIssue("remote_id", "must be SM or MM followed by 32 hex digits",
                                    "pattern"),))

    # -- response parsing --------------------------------------------------------------------
    def _parse_send(self, message: Message, response: HttpResponse) -> Result[SendResult]:
        if not response.is_success:
            return Err(map_api_error(response, self._send_operation))
        data = _json_object(response)
        sid = data.get("sid") if data is not None else None
        if data is None or not isinstance(sid, str) or not sid:
            code = _T.SEND_WHATSAPP_MESSAGE_FAILED if self.whatsapp else _M.SEND_MESSAGE_FAILED
            return Err(ErrorInfo(
                code=code, outcome_unknown=True,
                message=f"Twilio answered HTTP {response.status_code} without a message SID; "
                        "the message may have been accepted, so it is not sent again",
                details={"http_status": response.status_code}))
        provider_status = data.get("status")
        status_text = provider_status if isinstance(provider_status, str) else None
        extra = {k: data[k] for k in _SEND_KEYS if data.get(k) is not None}
        return Ok(SendResult(
            message_id=message.id,
            remote_message_id=sid,
            status=map_twilio_status(status_text),
            provider_status=status_text,
            additional_data=extra,
        ))

    def _parse_status(
        self, sid: str, response: HttpResponse, failure_code: ErrorCode
    ) -> Result[StatusUpdate]:
        data = _json_object(response)
        if data is None:
            return Err(ErrorInfo(
                code=failure_code,
                message=f"Twilio's answer about {sid} is not a JSON object",
                details={"http_status": response.status_code}))
        provider_status = data.get("status")
        status_text = provider_status if isinstance(provider_status, str) else None
        error: ErrorInfo | None = None
        error_code = _optional_int(data.get("error_code"))
        if error_code is not None:
            message = data.get("error_message")
            error = callback_error(error_code, status_text or "unknown",
                                    message if isinstance(message, str) else None)
        price: Decimal | None = None
        if data.get("price") is not None:
            text = _decimal_text(data["price"])
            price = Decimal(text) if text is not None else None
        unit = data.get("price_unit")
        return Ok(StatusUpdate(
            remote_message_id=sid,
            status=map_twilio_status(status_text),
            provider_status=status_text,
            error=error,
            price=price,
            price_unit=unit if isinstance(unit, str) else None,
            segments=_optional_int(data.get("num_segments")),
            date_created=_rfc2822(data.get("date_created")),
            date_sent=_rfc2822(data.get("date_sent")),
            date_updated=_rfc2822(data.get("date_updated")),
            additional_data={k: data[k] for k in _STATUS_KEYS if data.get(k) is not None},
        ))


class TwilioSmsConnector(TwilioConnectorBase):
    """SMS and MMS through Twilio.

    >>> connector = TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings)  # doctest: +SKIP
    >>> result = await connector.send_message(message)                             # doctest: +SKIP

    ``To`` must be an E.164 number; ``From`` an E.164 number, a short code or an alphanumeric
    sender ID (or nothing, with a MessagingServiceSid configured). :meth:`estimate` tells what
    Twilio will bill for a message's text before it is sent.
    """

    connector_type: ClassVar[str] = "sms"
    default_for_provider: ClassVar[bool] = True
    default_schema: ClassVar[ChannelSchema] = TWILIO_SMS
    presets: ClassVar[Mapping[str, ChannelSchema]] = dict(SMS_PRESETS)

    def message_cost(self, message: Message) -> int:
        """The segments Twilio will bill for the message's text (1 without text), charged
        against a shared rate limit."""
        estimate = self.estimate(message)
        return estimate.data.segments if estimate.data is not None else 1

    def estimate(self, message: Message) -> Result[SegmentAnalysis]:
        """The encoding, segments and characters Twilio will bill for the message's text.

        Uses the message's SmartEncoded property, else the connection's SmartEncoded setting.
        A message without text gives an ``UNSUPPORTED_CONTENT_TYPE`` error result. No request.
        """
        if not isinstance(message, Message):
            raise TypeError(f"estimate takes a Message, not {type(message).__name__}")
        text = message.text
        if text is None:
            return Err(ErrorInfo(
                code=_M.UNSUPPORTED_CONTENT_TYPE,
                message="Only a message with text can be estimated."))
        smart = message.properties.get("SmartEncoded")
        if smart is None:
            smart = self.parameters.get("SmartEncoded")
            if smart is None:
                smart = self.settings.get_parameter("SmartEncoded")
        flag = _bool_text(smart) if smart is not None else "false"
        if flag is None:
            return Err(ErrorInfo(
                code=_T.INVALID_MESSAGE,
                message="The SmartEncoded property must be true or false.",
                issues=(ValidationIssue("properties.SmartEncoded", "must be true or false",
                                        "type"),)))
        from ._segments import analyze

        return Ok(analyze(text, smart_encoded=flag == "true"))


class TwilioWhatsAppConnector(TwilioConnectorBase):
    """WhatsApp through Twilio: text, media and Content API templates.

    Addresses are ``whatsapp:+E164``; a bare ``+E164`` number gets the prefix, anything else is
    ``INVALID_WHATSAPP_NUMBER``. A :class:`~ratatosk.TemplateContent` is sent as ``ContentSid``
    (its ``template_id``, HX...) and ``ContentVariables`` (its parameters as JSON).
    """

    connector_type: ClassVar[str] = "whatsapp"
    whatsapp: ClassVar[bool] = True
    default_schema: ClassVar[ChannelSchema] = TWILIO_WHATSAPP
    presets: ClassVar[Mapping[str, ChannelSchema]] = dict(WHATSAPP_PRESETS)
    _send_operation: ClassVar[ApiCall] = ApiCall.SEND_WHATSAPP
    _status_operation: ClassVar[ApiCall] = ApiCall.STATUS_WHATSAPP
    _status_failure: ClassVar[ErrorCode] = TwilioErrorCodes.WHATSAPP_STATUS_QUERY_FAILED

    @staticmethod
    def _whatsapp_address(address: str) -> str | None:
        address = address.strip()
        number = address[len(_WHATSAPP_PREFIX):] if address.lower().startswith(
            _WHATSAPP_PREFIX) else address
        if _E164.fullmatch(number):
            return _WHATSAPP_PREFIX + number
        return None

    def _checked_whatsapp(
        self, address: str, field: str, example: str, problems: list[_Problem]
    ) -> str | None:
        normalized = self._whatsapp_address(address)
        if normalized is None:
            problems.append((_T.INVALID_WHATSAPP_NUMBER, ValidationIssue(
                field, f"{address.strip()!r} is not a WhatsApp address "
                       f"(whatsapp:+E164, e.g. {example}).", "format")))
        return normalized

    def _recipient(self, address: str, problems: list[_Problem]) -> str | None:
        return self._checked_whatsapp(address, "receiver", "whatsapp:+15550002222", problems)

    def _sender(self, address: str, problems: list[_Problem]) -> str | None:
        return self._checked_whatsapp(address, "sender", "whatsapp:+15550001111", problems)
