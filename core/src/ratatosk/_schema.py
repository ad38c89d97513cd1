"""Channel schemas: data describing what a connector does, needs and accepts."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from attrs import field, frozen

from ._models import EndpointType, MessageContentType


class ChannelCapability(enum.Flag):
    """What a connector can do."""

    NONE = 0
    SEND_MESSAGES = enum.auto()
    RECEIVE_MESSAGES = enum.auto()
    MESSAGE_STATUS_QUERY = enum.auto()
    HANDLE_MESSAGE_STATE = enum.auto()
    MEDIA_ATTACHMENTS = enum.auto()
    TEMPLATES = enum.auto()
    BULK_MESSAGING = enum.auto()
    HEALTH_CHECK = enum.auto()
    INTERACTIVE_CONTENT = enum.auto()


class ParameterType(str, enum.Enum):
    """The data type of a connection parameter or message property."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"  # decimal
    BOOLEAN = "boolean"
    URL = "url"
    DATETIME = "datetime"
    JSON = "json"


class AuthenticationScheme(str, enum.Enum):
    """How a connector authenticates to its provider."""

    NONE = "none"
    API_KEY = "api-key"
    BEARER = "bearer"
    BASIC = "basic"
    OAUTH2 = "oauth2"
    HMAC = "hmac"
    CUSTOM = "custom"


class AuthenticationFieldRole(str, enum.Enum):
    """The role a parameter plays in an authentication configuration."""

    PRINCIPAL = "principal"
    CREDENTIAL = "credential"


def _tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value or ())


@frozen
class ChannelParameter:
    """A connection parameter: its name, type, whether it is required or secret, default, limits."""

    name: str
    data_type: ParameterType = field(default=ParameterType.STRING, converter=ParameterType)
    required: bool = False
    sensitive: bool = False
    default: Any = None
    allowed_values: tuple[Any, ...] = field(default=(), converter=_tuple)
    description: str = ""
    min_value: float | None = None
    max_value: float | None = None
    pattern: str | None = None


@frozen
class ChannelEndpoint:
    """An endpoint type a connector handles, and in which directions."""

    type: EndpointType = field(converter=EndpointType)
    can_send: bool = True
    can_receive: bool = False
    required: bool = False


@frozen
class MessagePropertyConstraint:
    """Limits on a message property's value."""

    min_value: float | None = None
    max_value: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    allowed_values: tuple[Any, ...] = field(default=(), converter=_tuple)


@frozen
class MessagePropertySchema:
    """A message property a connector understands (``ValidityPeriod``, ``MaxPrice``...)."""

    name: str
    data_type: ParameterType = field(default=ParameterType.STRING, converter=ParameterType)
    required: bool = False
    description: str = ""
    constraints: MessagePropertyConstraint = field(factory=MessagePropertyConstraint)


@frozen
class AuthenticationField:
    """A parameter that takes part in authentication, and its role."""

    parameter: str
    role: AuthenticationFieldRole = field(converter=AuthenticationFieldRole)


@frozen
class AuthenticationConfiguration:
    """One way to authenticate: a scheme and the parameters it uses."""

    scheme: AuthenticationScheme = field(converter=AuthenticationScheme)
    fields: tuple[AuthenticationField, ...] = field(default=(), converter=_tuple)
    description: str = ""

    def field_for(self, role: AuthenticationFieldRole) -> str | None:
        for f in self.fields:
            if f.role == role:
                return f.parameter
        return None


@frozen
class ChannelSchema:
    """Describes a connector: identity, capabilities, contents, endpoints, parameters, properties.

    ``strict`` schemas reject message properties they do not declare; flexible ones pass them on.
    ``name`` is the preset's name (``"SimpleSms"``) when the schema is a preset.
    """

    provider: str
    type: str
    version: str
    display_name: str = ""
    description: str = ""
    name: str | None = None
    capabilities: ChannelCapability = ChannelCapability.NONE
    content_types: tuple[MessageContentType, ...] = field(default=(), converter=_tuple)
    endpoints: tuple[ChannelEndpoint, ...] = field(default=(), converter=_tuple)
    parameters: tuple[ChannelParameter, ...] = field(default=(), converter=_tuple)
    message_properties: tuple[MessagePropertySchema, ...] = field(default=(), converter=_tuple)
    authentication: tuple[AuthenticationConfiguration, ...] = field(default=(), converter=_tuple)
    strict: bool = True

    @property
    def identity(self) -> str:
        """``provider/type/version``."""
        return f"{self.provider}/{self.type}/{self.version}"

    @property
    def connector_id(self) -> str:
        """``provider/type``, the id ``ratatosk.connect`` takes."""
        return f"{self.provider}/{self.type}"

    def has_capability(self, capability: ChannelCapability) -> bool:
        return (self.capabilities & capability) == capability

    def parameter(self, name: str) -> ChannelParameter | None:
        for p in self.parameters:
            if p.name == name:
                return p
        return None

    def message_property(self, name: str) -> MessagePropertySchema | None:
        for p in self.message_properties:
            if p.name == name:
                return p
        return None
