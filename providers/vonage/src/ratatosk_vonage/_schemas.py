"""The Vonage channel schemas: the two connectors' default schemas and their presets.

Every preset is derived from its connector's default schema with the core's derivation API and is
checked, at import, to be a restriction of it. Limits come from Vonage's API descriptions (the
SMS API's OpenAPI document and the Messages API v1 reference). Both connectors receive inbound
messages and status webhooks (:mod:`ratatosk_vonage._webhooks`); neither declares status queries
or a health check, since Vonage documents no endpoint for either (see docs/vonage.md).
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
    "CHANNELS",
    "DEFAULT_MESSAGES_BASE_URL",
    "DEFAULT_SMS_BASE_URL",
    "REGION_BASE_URLS",
    "VONAGE_MESSAGES",
    "VONAGE_SMS",
    "VonageChannelSchemas",
]

DEFAULT_MESSAGES_BASE_URL = "https://api.nexmo.com"
"""The Messages API's root when neither BaseUrl nor Region is set."""
DEFAULT_SMS_BASE_URL = "https://rest.nexmo.com"
"""The SMS API's root when BaseUrl is not set."""
REGION_BASE_URLS = MappingProxyType({
    "eu": "https://api-eu.vonage.com",
    "ap": "https://api-ap.vonage.com",
})
"""The Messages API's regional hosts."""
CHANNELS = ("sms", "mms", "whatsapp")
"""The Messages API channels this provider sends on."""

# the same values as signature.SIGNATURE_METHODS and signature.DEFAULT_MAX_AGE (a test checks);
# repeated here so that loading the schemas does not load the signature code
SIGNATURE_METHODS = ("md5", "sha1", "sha256", "sha512")
DEFAULT_MAX_AGE = 300

_C = ChannelCapability
_T = ParameterType
_ROLE = AuthenticationFieldRole

VERSION = "0.1.0"

# -- connection parameters --------------------------------------------------------------------

_CREDENTIALS = (
    ChannelParameter(
        "ApiKey", _T.STRING, required=True,
        description="The account's API key (HTTP Basic user for the Messages API; api_key for "
                    "the SMS API).",
    ),
    ChannelParameter(
        "ApiSecret", _T.STRING, required=True, sensitive=True,
        description="The account's API secret.",
    ),
)
# the Messages API also authenticates with an application's JWT: key and secret are optional there
_MESSAGES_CREDENTIALS = (
    ChannelParameter(
        "ApiKey", _T.STRING,
        description="The account's API key (HTTP Basic user when no ApplicationId is set).",
    ),
    ChannelParameter(
        "ApiSecret", _T.STRING, sensitive=True,
        description="The account's API secret (HTTP Basic password when no ApplicationId is "
                    "set).",
    ),
)
_APPLICATION = (
    ChannelParameter(
        "ApplicationId", _T.STRING,
        description="A Vonage application id: with PrivateKey, Messages API requests are "
                    "authenticated with an RS256 JWT (needs the jwt extra: "
                    "pip install ratatosk-messaging-vonage[jwt]); without it, HTTP Basic with "
                    "ApiKey and ApiSecret.",
    ),
    ChannelParameter(
        "PrivateKey", _T.STRING, sensitive=True,
        description="The application's RSA private key: the PEM text, or the path of a PEM "
                    "file (read once, when the connector initializes).",
    ),
)
_WEBHOOK = (
    ChannelParameter(
        "SignatureSecret", _T.STRING, sensitive=True,
        description="The account's signature secret: Vonage signs webhooks with it (Messages "
                    "API: an HS256 JWT; SMS API: the sig parameter). Needed to receive "
                    "webhooks unless ValidateSignatures is false.",
    ),
    ChannelParameter(
        "SecondarySignatureSecrets", _T.STRING, sensitive=True,
        description="Comma-separated further signature secrets accepted for webhook signatures "
                    "while the signature secret is being rotated.",
    ),
    ChannelParameter(
        "SignatureMethod", _T.STRING, default="md5", allowed_values=SIGNATURE_METHODS,
        description="The HMAC digest of SMS API webhook signatures (sig): md5, sha1, sha256 or "
                    "sha512, as chosen in the Vonage dashboard (md5, like the official SDK, "
                    "when unset). The Messages API always signs with an HS256 JWT.",
    ),
    ChannelParameter(
        "ValidateSignatures", _T.BOOLEAN, default=True,
        description="Check the signature of every webhook (JWT or sig) before parsing it.",
    ),
    ChannelParameter(
        "MaxWebhookAge", _T.INTEGER, default=DEFAULT_MAX_AGE, min_value=1,
        description="Seconds a signed webhook stays acceptable after Vonage signed it (the "
                    "JWT's iat, the SMS API's timestamp); older ones are refused as replays.",
    ),
    ChannelParameter(
        "MaxWebhookBodySize", _T.INTEGER, default=64 * 1024, min_value=1024,
        description="Webhook bodies larger than this many bytes are refused.",
    ),
    ChannelParameter(
        "WebhookUrl", _T.URL,
        description="The public URL you configured for Vonage's inbound and status webhooks "
                    "(informational: neither signature covers the URL, so it is not needed to "
                    "check one).",
    ),
)
_STATUS_CALLBACK = ChannelParameter(
    "StatusCallback", _T.URL,
    description="Default URL for a message's status webhooks (Messages API webhook_url, SMS API "
                "callback). Sent with every message unless the message sets its own.",
)

_MESSAGES_ENDPOINT = (
    ChannelParameter(
        "BaseUrl", _T.URL,
        description="The API root (a sandbox or test server goes here). Wins over Region; "
                    f"without both, {DEFAULT_MESSAGES_BASE_URL}.",
    ),
    ChannelParameter(
        "Region", _T.STRING, allowed_values=tuple(REGION_BASE_URLS),
        description="The Messages API region: eu (api-eu.vonage.com) or ap "
                    "(api-ap.vonage.com).",
    ),
    ChannelParameter(
        "Channel", _T.STRING, allowed_values=CHANNELS,
        description="The default channel (sms, mms, whatsapp). Unset, each message picks: a "
                    "whatsapp: address goes by WhatsApp, a message with media by MMS, else SMS.",
    ),
)
_SMS_ENDPOINT = (
    ChannelParameter(
        "BaseUrl", _T.URL, default=DEFAULT_SMS_BASE_URL,
        description="The SMS API root (a sandbox or test server goes here).",
    ),
    ChannelParameter(
        "StatusReportRequest", _T.BOOLEAN,
        description="Ask for delivery receipts (status-report-req); sent only when set.",
    ),
)

_BASIC = AuthenticationConfiguration(
    AuthenticationScheme.BASIC,
    (AuthenticationField("ApiKey", _ROLE.PRINCIPAL),
     AuthenticationField("ApiSecret", _ROLE.CREDENTIAL)),
    "The API key and secret (HTTP Basic on the Messages API, form fields on the SMS API).",
)
_JWT = AuthenticationConfiguration(
    AuthenticationScheme.BEARER,
    (AuthenticationField("ApplicationId", _ROLE.PRINCIPAL),
     AuthenticationField("PrivateKey", _ROLE.CREDENTIAL)),
    "A Bearer JWT signed RS256 with the application's private key (claims application_id, iat, "
    "jti, exp); needs the jwt extra.",
)

# -- message properties -----------------------------------------------------------------------


_prop = MessagePropertySchema.of


_P_STATUS_CALLBACK = _prop("StatusCallback", _T.URL,
                           "URL for this message's status webhooks.")
_P_VALIDITY = _prop("ValidityPeriod", _T.INTEGER,
                    "Seconds Vonage tries to deliver the message (ttl; SMS 20..604800, MMS "
                    "300..259200).", min_value=20, max_value=604800)
_P_CLIENT_REF_MESSAGES = _prop("ClientRef", _T.STRING,
                               "Your reference, echoed in status webhooks (client_ref).",
                               min_length=1, max_length=100)
_P_CLIENT_REF_SMS = _prop("ClientRef", _T.STRING,
                          "Your reference, echoed in delivery receipts (client-ref).",
                          min_length=1, max_length=40)
_P_CHANNEL = _prop("Channel", _T.STRING, "The channel for this message.",
                   allowed_values=CHANNELS)
_P_WEBHOOK_VERSION = _prop("WebhookVersion", _T.STRING,
                           "The status webhooks' format for this message.",
                           allowed_values=("v0.1", "v1"))
_P_ENCODING = _prop("EncodingType", _T.STRING,
                    "SMS encoding: text, unicode, or auto (Messages API; the SMS API chooses "
                    "text or unicode from the content when unset).",
                    allowed_values=("text", "unicode", "auto"))
_P_SMS_ENCODING = _prop("EncodingType", _T.STRING,
                        "SMS encoding (type): text or unicode; chosen from the content when "
                        "unset.", allowed_values=("text", "unicode"))
_P_TEMPLATE_LOCALE = _prop("TemplateLocale", _T.STRING,
                           "A WhatsApp template's locale (en_US when unset).",
                           pattern=r"[a-z]{2,3}(_[A-Z]{2})?")
_P_WHATSAPP_POLICY = _prop("WhatsAppPolicy", _T.STRING,
                           "A WhatsApp template's locale policy.",
                           allowed_values=("deterministic",))
_P_STATUS_REPORT = _prop("StatusReportRequest", _T.BOOLEAN,
                         "Ask for a delivery receipt for this message (status-report-req).")

# -- the default schemas ----------------------------------------------------------------------

_PHONE = ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True)

VONAGE_MESSAGES = ChannelSchema(
    provider="vonage",
    type="messages",
    version=VERSION,
    display_name="Vonage Messages",
    description="SMS, MMS and WhatsApp through Vonage's Messages API v1: text, image, audio, "
                "video and file media, WhatsApp templates.",
    name="VonageMessages",
    capabilities=(_C.SEND_MESSAGES | _C.RECEIVE_MESSAGES | _C.HANDLE_MESSAGE_STATE
                  | _C.MEDIA_ATTACHMENTS | _C.TEMPLATES | _C.BULK_MESSAGING),
    content_types=(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA,
                   MessageContentType.MULTIPART, MessageContentType.TEMPLATE),
    endpoints=(_PHONE,),
    parameters=(*_MESSAGES_CREDENTIALS, *_APPLICATION, *_MESSAGES_ENDPOINT, _STATUS_CALLBACK,
                *_WEBHOOK, *COMMON_PARAMETERS),
    message_properties=(_P_CHANNEL, _P_CLIENT_REF_MESSAGES, _P_STATUS_CALLBACK,
                        _P_WEBHOOK_VERSION, _P_VALIDITY, _P_ENCODING, _P_TEMPLATE_LOCALE,
                        _P_WHATSAPP_POLICY),
    authentication=(_BASIC, _JWT),
    strict=True,
    authentication_required=True,
)

VONAGE_SMS = ChannelSchema(
    provider="vonage",
    type="sms",
    version=VERSION,
    display_name="Vonage SMS",
    description="SMS through Vonage's SMS API (rest.nexmo.com/sms/json): text or unicode chosen "
                "from the content, every part of a long message accounted for.",
    name="VonageSms",
    capabilities=(_C.SEND_MESSAGES | _C.RECEIVE_MESSAGES | _C.HANDLE_MESSAGE_STATE
                  | _C.BULK_MESSAGING),
    content_types=(MessageContentType.PLAIN_TEXT,),
    endpoints=(_PHONE,),
    parameters=(*_CREDENTIALS, *_SMS_ENDPOINT, _STATUS_CALLBACK, *_WEBHOOK, *COMMON_PARAMETERS),
    message_properties=(_P_CLIENT_REF_SMS, _P_STATUS_CALLBACK, _P_VALIDITY, _P_SMS_ENCODING,
                        _P_STATUS_REPORT),
    authentication=(_BASIC,),
    strict=True,
    authentication_required=True,
)

# -- presets ----------------------------------------------------------------------------------

_WEBHOOK_NAMES = tuple(p.name for p in _WEBHOOK)

SIMPLE_SMS = (
    VONAGE_SMS.derive(name="SimpleSms", display_name="Vonage SMS (simple)",
                      description="Send plain-text SMS, one at a time.")
    .remove_capabilities(_C.BULK_MESSAGING, _C.RECEIVE_MESSAGES, _C.HANDLE_MESSAGE_STATE)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
    .remove_parameters("StatusCallback", "StatusReportRequest", *_WEBHOOK_NAMES)
    .remove_message_properties("StatusCallback", "StatusReportRequest")
)

TEXT_MESSAGES = (
    VONAGE_MESSAGES.derive(name="TextMessages", display_name="Vonage Messages (text)",
                           description="Plain-text SMS and WhatsApp messages, inbound "
                                       "messages and status webhooks.")
    .remove_capabilities(_C.MEDIA_ATTACHMENTS, _C.TEMPLATES)
    .remove_content_types(MessageContentType.MEDIA, MessageContentType.MULTIPART,
                          MessageContentType.TEMPLATE)
    .remove_message_properties("TemplateLocale", "WhatsAppPolicy")
)

WHATSAPP_TEMPLATES = (
    VONAGE_MESSAGES.derive(name="WhatsAppTemplates",
                           display_name="Vonage Messages (WhatsApp templates)",
                           description="Business-initiated WhatsApp template messages, with "
                                       "status webhooks.")
    .remove_capabilities(_C.MEDIA_ATTACHMENTS, _C.RECEIVE_MESSAGES)
    .restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False)
    .remove_content_types(MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA,
                          MessageContentType.MULTIPART)
    .remove_message_properties("EncodingType", "ValidityPeriod")
)


class VonageChannelSchemas:
    """The Vonage schemas: each connector's default and its presets. A schema's ``name``
    (``"SimpleSms"``) is the preset name ``ratatosk.connect(..., schema=...)`` takes."""

    VONAGE_MESSAGES: ClassVar[ChannelSchema] = VONAGE_MESSAGES
    """Everything the Messages API connector does (its default schema)."""
    TEXT_MESSAGES: ClassVar[ChannelSchema] = TEXT_MESSAGES
    """Plain-text SMS and WhatsApp through the Messages API."""
    WHATSAPP_TEMPLATES: ClassVar[ChannelSchema] = WHATSAPP_TEMPLATES
    """WhatsApp template messages through the Messages API."""
    VONAGE_SMS: ClassVar[ChannelSchema] = VONAGE_SMS
    """Everything the SMS API connector does (its default schema)."""
    SIMPLE_SMS: ClassVar[ChannelSchema] = SIMPLE_SMS
    """Plain-text SMS through the SMS API, one at a time."""

    @classmethod
    def all(cls) -> dict[str, ChannelSchema]:
        """Every schema by its name (``"VonageMessages"``, ``"SimpleSms"``, ...)."""
        schemas = (VONAGE_MESSAGES, TEXT_MESSAGES, WHATSAPP_TEMPLATES, VONAGE_SMS, SIMPLE_SMS)
        return {s.name or s.identity: s for s in schemas}


MESSAGES_PRESETS = MappingProxyType(
    {s.name or "": s for s in (TEXT_MESSAGES, WHATSAPP_TEMPLATES)})
"""The Messages API connector's presets by name."""
SMS_PRESETS = MappingProxyType({s.name or "": s for s in (SIMPLE_SMS,)})
"""The SMS API connector's presets by name."""


def _check_presets() -> None:
    for base, presets in ((VONAGE_MESSAGES, MESSAGES_PRESETS), (VONAGE_SMS, SMS_PRESETS)):
        for name, preset in presets.items():
            problems = preset.restriction_problems(base)
            if problems:  # pragma: no cover - a programming error caught at import
                raise AssertionError(f"preset {name} widens {base.name}: {problems}")


_check_presets()
