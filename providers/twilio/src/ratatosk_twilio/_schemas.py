"""The Twilio channel schemas: the two connectors' default schemas and their presets.

Every preset is derived from its connector's default schema with the core's derivation API
(``remove_*``, ``restrict_*``) and is checked, at import, to be a restriction of it. Parameter and
property types and limits come from Twilio's OpenAPI description of the Messages API.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar

from ratatosk import (
    COMMON_PARAMETERS,
    AuthenticationConfiguration,
    AuthenticationField,
    AuthenticationFieldRole,
    AuthenticationScheme,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    EndpointType,
    MessageContentType,
    MessagePropertySchema,
    ParameterType,
)

__all__ = [
    "ACCOUNT_SID_PATTERN",
    "API_KEY_SID_PATTERN",
    "CONTENT_SID_PATTERN",
    "DEFAULT_BASE_URL",
    "MESSAGE_SID_PATTERN",
    "MESSAGING_SERVICE_SID_PATTERN",
    "WEBHOOK_PARAMETERS",
    "TwilioChannelSchemas",
]

DEFAULT_BASE_URL = "https://api.twilio.com"
"""Twilio's API root; ``BaseUrl``'s default."""

ACCOUNT_SID_PATTERN = r"^AC[0-9a-fA-F]{32}$"
API_KEY_SID_PATTERN = r"^SK[0-9a-fA-F]{32}$"
MESSAGING_SERVICE_SID_PATTERN = r"^MG[0-9a-fA-F]{32}$"
CONTENT_SID_PATTERN = r"^HX[0-9a-fA-F]{32}$"
MESSAGE_SID_PATTERN = r"^(SM|MM)[0-9a-fA-F]{32}$"

_C = ChannelCapability
_T = ParameterType
_ROLE = AuthenticationFieldRole

VERSION = "1.0.0"

# -- connection parameters --------------------------------------------------------------------

_ACCOUNT = (
    ChannelParameter(
        "AccountSid", _T.STRING, required=True, pattern=ACCOUNT_SID_PATTERN,
        description="Twilio account SID (AC followed by 32 hex digits). Part of every API URL, "
                    "so it is needed with an API key too.",
    ),
    ChannelParameter(
        "AuthToken", _T.STRING, sensitive=True,
        description="The account's auth token (basic authentication, and the key Twilio signs "
                    "webhooks with). Give it, or ApiKeySid and ApiKeySecret.",
    ),
    ChannelParameter(
        "ApiKeySid", _T.STRING, pattern=API_KEY_SID_PATTERN,
        description="An API key SID (SK followed by 32 hex digits), used with ApiKeySecret "
                    "instead of the auth token.",
    ),
    ChannelParameter(
        "ApiKeySecret", _T.STRING, sensitive=True,
        description="The API key's secret.",
    ),
    ChannelParameter(
        "MessagingServiceSid", _T.STRING, pattern=MESSAGING_SERVICE_SID_PATTERN,
        description="Messaging Service SID (MG...). When set, messages go through the service "
                    "(which picks the sender) and a message's From is not sent.",
    ),
)

_ENDPOINT = (
    ChannelParameter(
        "BaseUrl", _T.URL, default=DEFAULT_BASE_URL,
        description="The API root. Set it for a sandbox or test server; when left at its default "
                    "Region and Edge choose the host.",
    ),
    ChannelParameter(
        "Region", _T.STRING, pattern=r"^[a-z]{2}[0-9]+$",
        description="Twilio region (us1, ie1, au1, ...): the API host becomes "
                    "api.{edge}.{region}.twilio.com (edge defaults to the region's own).",
    ),
    ChannelParameter(
        "Edge", _T.STRING, pattern=r"^[a-z]+(-[a-z]+)*$",
        description="Twilio edge location (ashburn, dublin, sydney, ...); without Region the "
                    "region is us1.",
    ),
)

_CALLBACK = ChannelParameter(
    "StatusCallback", _T.URL,
    description="URL Twilio posts delivery status callbacks to. Sent with every message unless a "
                "message sets ProvideCallback=false or its own StatusCallback.",
)

_WEBHOOK = (
    ChannelParameter(
        "WebhookUrl", _T.URL,
        description="The public URL Twilio calls for inbound messages (and status callbacks "
                    "when StatusCallback is not set); webhook signatures are checked against it.",
    ),
    ChannelParameter(
        "SecondaryAuthTokens", _T.STRING, sensitive=True,
        description="Comma-separated further auth tokens accepted for webhook signatures while "
                    "the auth token is being rotated.",
    ),
    ChannelParameter(
        "ValidateSignatures", _T.BOOLEAN, default=True,
        description="Check the X-Twilio-Signature of every webhook before parsing it.",
    ),
    ChannelParameter(
        "TrustForwardedHeaders", _T.BOOLEAN, default=False,
        description="Rebuild the webhook URL from X-Forwarded-Proto/Host/Port (only behind a "
                    "proxy you control).",
    ),
    ChannelParameter(
        "MaxWebhookBodySize", _T.INTEGER, default=64 * 1024, min_value=1024,
        description="Webhook bodies larger than this many bytes are refused.",
    ),
)

WEBHOOK_PARAMETERS: tuple[str, ...] = tuple(p.name for p in _WEBHOOK)
"""Parameters only webhook handling reads."""

_VALIDITY = ChannelParameter(
    "ValidityPeriod", _T.INTEGER, min_value=1, max_value=36000,
    description="Default seconds a message may wait in Twilio's queue (1..36000; Twilio's own "
                "default is 36000). Sent only when set; a message's ValidityPeriod wins.",
)
_MAX_PRICE = ChannelParameter(
    "MaxPrice", _T.NUMBER, min_value=0,
    description="Default maximum price per message (Twilio marks the parameter obsolete since "
                "2024-06-03). Sent only when set; a message's MaxPrice wins.",
)
_SMART_ENCODED = ChannelParameter(
    "SmartEncoded", _T.BOOLEAN,
    description="Default for Smart Encoding (Unicode look-alikes replaced by GSM-7 characters). "
                "Sent only when set; a message's SmartEncoded wins.",
)

_BASIC = AuthenticationConfiguration(
    AuthenticationScheme.BASIC,
    (AuthenticationField("AccountSid", _ROLE.PRINCIPAL),
     AuthenticationField("AuthToken", _ROLE.CREDENTIAL)),
    "HTTP Basic with the account SID and auth token.",
)
_API_KEY = AuthenticationConfiguration(
    AuthenticationScheme.API_KEY,
    (AuthenticationField("ApiKeySid", _ROLE.PRINCIPAL),
     AuthenticationField("ApiKeySecret", _ROLE.CREDENTIAL)),
    "HTTP Basic with an API key SID (SK...) and its secret; AccountSid still names the account.",
)

# -- message properties -----------------------------------------------------------------------


_prop = MessagePropertySchema.of


_P_VALIDITY = _prop("ValidityPeriod", _T.INTEGER,
                    "Seconds the message may wait in Twilio's queue before it is dropped.",
                    min_value=1, max_value=36000)
_P_MAX_PRICE = _prop("MaxPrice", _T.NUMBER, "Maximum price to pay for the message.", min_value=0)
_P_PROVIDE_CALLBACK = _prop(
    "ProvideCallback", _T.BOOLEAN,
    "Ask for delivery status callbacks (to StatusCallback, else the StatusCallback setting, else "
    "WebhookUrl); false sends none even when StatusCallback is configured.")
_P_SMART_ENCODED = _prop("SmartEncoded", _T.BOOLEAN,
                         "Replace Unicode look-alikes with GSM-7 characters (Smart Encoding).")
_P_STATUS_CALLBACK = _prop("StatusCallback", _T.URL, "Status callback URL for this message.")
_P_ATTEMPT = _prop("Attempt", _T.INTEGER,
                   "Total number of attempts made (including this one) to send the message.",
                   min_value=1)
_P_PERSISTENT_ACTION = _prop(
    "PersistentAction", _T.JSON,
    "Rich actions (a text or a list of texts), e.g. 'geo:37.78,-122.39|Label' for a location.")
_P_SHORTEN_URLS = _prop("ShortenUrls", _T.BOOLEAN,
                        "Shorten links in the body (needs a Messaging Service with link "
                        "shortening).")
_P_SEND_AT = _prop("SendAt", _T.DATETIME,
                   "When Twilio sends the message (a scheduled message; needs a Messaging "
                   "Service); ScheduleType=fixed is added when missing.")
_P_SCHEDULE_TYPE = _prop("ScheduleType", _T.STRING, "'fixed' for a scheduled message.",
                         allowed_values=("fixed",))
_P_CONTENT_RETENTION = _prop("ContentRetention", _T.STRING,
                             "Whether Twilio keeps the message content.",
                             allowed_values=("retain", "discard"))
_P_ADDRESS_RETENTION = _prop("AddressRetention", _T.STRING,
                             "Whether Twilio keeps or obfuscates the addresses.",
                             allowed_values=("retain", "obfuscate"))
_P_RISK_CHECK = _prop("RiskCheck", _T.STRING, "'disable' skips Twilio's risk checks.",
                      allowed_values=("enable", "disable"))
_P_SEND_AS_MMS = _prop("SendAsMms", _T.BOOLEAN,
                       "Deliver as one MMS message, with or without media.")

_SMS_PROPERTIES = (
    _P_VALIDITY, _P_MAX_PRICE, _P_PROVIDE_CALLBACK, _P_SMART_ENCODED, _P_STATUS_CALLBACK,
    _P_ATTEMPT, _P_SHORTEN_URLS, _P_SEND_AT, _P_SCHEDULE_TYPE, _P_CONTENT_RETENTION,
    _P_ADDRESS_RETENTION, _P_RISK_CHECK, _P_SEND_AS_MMS,
)
_WHATSAPP_PROPERTIES = (
    _P_VALIDITY, _P_PROVIDE_CALLBACK, _P_STATUS_CALLBACK, _P_ATTEMPT, _P_PERSISTENT_ACTION,
    _P_SHORTEN_URLS, _P_SEND_AT, _P_SCHEDULE_TYPE, _P_CONTENT_RETENTION, _P_ADDRESS_RETENTION,
)

# -- the default schemas ----------------------------------------------------------------------

_PHONE = ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True)

TWILIO_SMS = ChannelSchema(
    provider="twilio",
    type="sms",
    version=VERSION,
    display_name="Twilio SMS",
    description="SMS and MMS through Twilio's Programmable Messaging API: text, media, status "
                "queries, inbound messages and status callbacks.",
    name="TwilioSms",
    capabilities=(_C.SEND_MESSAGES | _C.MESSAGE_STATUS_QUERY | _C.RECEIVE_MESSAGES
                  | _C.HANDLE_MESSAGE_STATE | _C.MEDIA_ATTACHMENTS | _C.BULK_MESSAGING
                  | _C.HEALTH_CHECK),
    content_types=(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA,
                   MessageContentType.MULTIPART),
    endpoints=(_PHONE,),
    parameters=(*_ACCOUNT, *_ENDPOINT, _CALLBACK, *_WEBHOOK, _VALIDITY, _MAX_PRICE,
                _SMART_ENCODED, *COMMON_PARAMETERS),
    message_properties=_SMS_PROPERTIES,
    authentication=(_BASIC, _API_KEY),
    strict=True,
    authentication_required=True,  # AuthToken, or ApiKeySid and ApiKeySecret
)

TWILIO_WHATSAPP = ChannelSchema(
    provider="twilio",
    type="whatsapp",
    version=VERSION,
    display_name="Twilio WhatsApp",
    description="WhatsApp through Twilio: text, media, Content API templates, status queries, "
                "inbound messages and status callbacks. Addresses are whatsapp:+E164 (a bare "
                "+E164 number gets the prefix).",
    name="TwilioWhatsApp",
    capabilities=(_C.SEND_MESSAGES | _C.MESSAGE_STATUS_QUERY | _C.RECEIVE_MESSAGES
                  | _C.HANDLE_MESSAGE_STATE | _C.MEDIA_ATTACHMENTS | _C.TEMPLATES
                  | _C.BULK_MESSAGING | _C.HEALTH_CHECK),
    content_types=(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA,
                   MessageContentType.MULTIPART, MessageContentType.TEMPLATE),
    endpoints=(_PHONE,),
    parameters=(*_ACCOUNT, *_ENDPOINT, _CALLBACK, *_WEBHOOK, _VALIDITY, *COMMON_PARAMETERS),
    message_properties=_WHATSAPP_PROPERTIES,
    authentication=(_BASIC, _API_KEY),
    strict=True,
    authentication_required=True,  # AuthToken, or ApiKeySid and ApiKeySecret
)

# -- presets ----------------------------------------------------------------------------------


def _keep_properties(schema: ChannelSchema, *names: str) -> ChannelSchema:
    drop = [p.name for p in schema.message_properties if p.name not in names]
    return schema.remove_message_properties(*drop) if drop else schema


SIMPLE_SMS = (
    TWILIO_SMS.derive(name="SimpleSms", display_name="Twilio SMS (simple)",
                      description="Send plain-text SMS and query their status.")
    .remove_capabilities(_C.RECEIVE_MESSAGES, _C.HANDLE_MESSAGE_STATE, _C.MEDIA_ATTACHMENTS,
                         _C.BULK_MESSAGING, _C.HEALTH_CHECK)
    .remove_content_types(MessageContentType.MEDIA, MessageContentType.MULTIPART)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
    .remove_parameters("StatusCallback", *WEBHOOK_PARAMETERS)
)
SIMPLE_SMS = _keep_properties(SIMPLE_SMS, "ValidityPeriod", "MaxPrice", "SmartEncoded")

NOTIFICATION_SMS = (
    TWILIO_SMS.derive(name="NotificationSms", display_name="Twilio SMS (notifications)",
                      description="Send-only plain-text notifications, optionally with delivery "
                                  "callbacks (ProvideCallback).")
    .remove_capabilities(_C.MESSAGE_STATUS_QUERY, _C.RECEIVE_MESSAGES, _C.HANDLE_MESSAGE_STATE,
                         _C.MEDIA_ATTACHMENTS, _C.BULK_MESSAGING, _C.HEALTH_CHECK)
    .remove_content_types(MessageContentType.MEDIA, MessageContentType.MULTIPART)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
    .remove_parameters(*WEBHOOK_PARAMETERS)
)
NOTIFICATION_SMS = _keep_properties(NOTIFICATION_SMS, "ValidityPeriod", "MaxPrice",
                                    "SmartEncoded", "ProvideCallback", "StatusCallback")

BULK_SMS = (
    TWILIO_SMS.derive(name="BulkSms", display_name="Twilio SMS (bulk)",
                      description="High-volume sending through a Messaging Service "
                                  "(MessagingServiceSid required), with status callbacks.")
    .remove_capabilities(_C.RECEIVE_MESSAGES)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
    .restrict_parameter("MessagingServiceSid", required=True)
)

SIMPLE_WHATSAPP = (
    TWILIO_WHATSAPP.derive(name="SimpleWhatsApp", display_name="Twilio WhatsApp (simple)",
                           description="Send plain-text WhatsApp messages and query their "
                                       "status.")
    .remove_capabilities(_C.RECEIVE_MESSAGES, _C.HANDLE_MESSAGE_STATE, _C.MEDIA_ATTACHMENTS,
                         _C.TEMPLATES, _C.BULK_MESSAGING, _C.HEALTH_CHECK)
    .remove_content_types(MessageContentType.MEDIA, MessageContentType.MULTIPART,
                          MessageContentType.TEMPLATE)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
    .remove_parameters("StatusCallback", *WEBHOOK_PARAMETERS)
)
SIMPLE_WHATSAPP = _keep_properties(SIMPLE_WHATSAPP, "ValidityPeriod")

WHATSAPP_TEMPLATES = (
    TWILIO_WHATSAPP.derive(name="WhatsAppTemplates", display_name="Twilio WhatsApp (templates)",
                           description="Business-initiated WhatsApp messages from Content API "
                                       "templates (ContentSid + ContentVariables), with status "
                                       "queries and callbacks.")
    .remove_capabilities(_C.RECEIVE_MESSAGES, _C.MEDIA_ATTACHMENTS)
    .remove_content_types(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA,
                          MessageContentType.MULTIPART)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
)
WHATSAPP_TEMPLATES = _keep_properties(
    WHATSAPP_TEMPLATES, "ValidityPeriod", "ProvideCallback", "StatusCallback", "Attempt",
    "ShortenUrls", "SendAt", "ScheduleType", "ContentRetention", "AddressRetention")


class TwilioChannelSchemas:
    """The Twilio schemas: each connector's default and its presets.

    The seed's ``TwilioChannelSchemas.SimpleSms`` is ``TwilioChannelSchemas.SIMPLE_SMS`` here; a
    schema's ``name`` (``"SimpleSms"``) is the preset name ``ratatosk.connect(..., schema=...)``
    and ``ratatosk schema twilio/sms --preset`` take.
    """

    TWILIO_SMS: ClassVar[ChannelSchema] = TWILIO_SMS
    """Everything the SMS connector does (its default schema)."""
    SIMPLE_SMS: ClassVar[ChannelSchema] = SIMPLE_SMS
    """Plain-text SMS: send and status query."""
    NOTIFICATION_SMS: ClassVar[ChannelSchema] = NOTIFICATION_SMS
    """Send-only plain-text SMS, with ProvideCallback."""
    BULK_SMS: ClassVar[ChannelSchema] = BULK_SMS
    """Sending through a Messaging Service (MessagingServiceSid required), batches included."""
    TWILIO_WHATSAPP: ClassVar[ChannelSchema] = TWILIO_WHATSAPP
    """Everything the WhatsApp connector does (its default schema)."""
    SIMPLE_WHATSAPP: ClassVar[ChannelSchema] = SIMPLE_WHATSAPP
    """Plain-text WhatsApp: send and status query."""
    WHATSAPP_TEMPLATES: ClassVar[ChannelSchema] = WHATSAPP_TEMPLATES
    """WhatsApp Content API templates."""

    @classmethod
    def all(cls) -> dict[str, ChannelSchema]:
        """Every schema by its name (``"TwilioSms"``, ``"SimpleSms"``, ...)."""
        schemas = (TWILIO_SMS, SIMPLE_SMS, NOTIFICATION_SMS, BULK_SMS, TWILIO_WHATSAPP,
                   SIMPLE_WHATSAPP, WHATSAPP_TEMPLATES)
        return {s.name or s.identity: s for s in schemas}


SMS_PRESETS = MappingProxyType(
    {s.name or "": s for s in (SIMPLE_SMS, NOTIFICATION_SMS, BULK_SMS)})
"""The SMS connector's presets by name."""
WHATSAPP_PRESETS = MappingProxyType(
    {s.name or "": s for s in (SIMPLE_WHATSAPP, WHATSAPP_TEMPLATES)})
"""The WhatsApp connector's presets by name."""


def _check_presets() -> None:
    for base, presets in ((TWILIO_SMS, SMS_PRESETS), (TWILIO_WHATSAPP, WHATSAPP_PRESETS)):
        for name, preset in presets.items():
            problems = preset.restriction_problems(base)
            if problems:  # pragma: no cover - a programming error caught at import
                raise AssertionError(f"preset {name} widens {base.name}: {problems}")


_check_presets()
