"""Channel schemas: data describing what a connector does, needs and accepts.

A :class:`ChannelSchema` is plain, immutable data. It validates connection settings
(:meth:`ChannelSchema.validate_settings`, :meth:`ChannelSchema.resolve_settings`) and messages
(:meth:`ChannelSchema.validate_message`), reporting every problem found; it can be narrowed into a
new schema (``remove_*``, ``restrict_*``, :meth:`ChannelSchema.derive`) and checked to be such a
narrowing (:meth:`ChannelSchema.is_restriction_of`); and it exports to and from plain JSON
(:meth:`ChannelSchema.to_dict`, :meth:`ChannelSchema.to_json`), format ``ratatosk.schema/1``.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs
from attrs import field, frozen

from .. import _values
from .._errors import ErrorInfo, MessagingErrorCodes, ValidationIssue
from .._models import (
    Content,
    EndpointType,
    MediaContent,
    Message,
    MessageContentType,
    MultipartContent,
    TemplateContent,
    TextContent,
)
from .._phone import phone_number_problem
from .._results import Err, Ok, Result
from .._settings import ConnectionSettings, Secret, looks_sensitive, normalize_parameter_name
from .._values import InvalidValue

SCHEMA_FORMAT = "ratatosk.schema/1"
"""The value of the ``"format"`` key in a schema's JSON export."""
SCHEMA_JSON_SCHEMA_FILE = "channel-schema.schema.json"
"""The file (in the package's ``data`` folder) holding :meth:`ChannelSchema.json_schema`."""


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

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ChannelCapability:
        """The flags named (``["SEND_MESSAGES", "TEMPLATES"]``); ValueError for an unknown name."""
        result = cls.NONE
        for name in names:
            member = cls.__members__.get(name) if isinstance(name, str) else None
            if member is None:
                raise ValueError(f"{name!r} is not a channel capability")
            result |= member
        return result

    def names(self) -> list[str]:
        """The names of the single flags set, sorted alphabetically."""
        return sorted(
            name
            for name, member in type(self).__members__.items()
            if member.value and (member.value & (member.value - 1)) == 0 and member in self
        )


class ParameterType(str, enum.Enum):
    """The data type of a connection parameter or message property.

    Values given as text (``K=V`` settings, environment variables, DSN options) are accepted when
    they convert: ``"30"`` for INTEGER, ``"0.5"`` for NUMBER, ``true/false/yes/no/1/0`` for
    BOOLEAN, an absolute ``http(s)`` URL for URL, ISO 8601 for DATETIME, JSON text for JSON.
    """

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


class SchemaDefinitionError(ValueError):
    """A schema (or part of one) is inconsistent: a bad pattern, a name declared twice."""

    readable = True  # its message names the problem, never a payload value


def _tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value or ())


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _check_whole_limits(
    name: str, data_type: ParameterType, low: float | None, high: float | None
) -> None:
    """An INTEGER's limits are whole numbers (they export as JSON integers)."""
    if data_type == ParameterType.INTEGER:
        for limit in (low, high):
            if limit is not None and not float(limit).is_integer():
                raise SchemaDefinitionError(
                    f"{name} is an integer but its limit {limit} is not a whole number"
                )


def _valid_pattern(_instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    try:
        re.compile(value)
    except re.error as exc:
        raise SchemaDefinitionError(
            f"{attribute.name} {value!r} is not a valid regular expression: {exc}"
        ) from None


@frozen
class ChannelParameter:
    """A connection parameter: its name, type, whether it is required or secret, default, limits.

    ``min_value``/``max_value`` bound numbers; ``pattern`` is a regular expression the whole text
    of the value must match (:func:`re.fullmatch`: ``^``/``$`` anchors are allowed but not needed,
    and a trailing newline never slips past a ``$``).
    """

    name: str
    data_type: ParameterType = field(default=ParameterType.STRING, converter=ParameterType)
    required: bool = False
    sensitive: bool = False
    default: Any = None
    allowed_values: tuple[Any, ...] = field(default=(), converter=_tuple)
    description: str = ""
    min_value: float | None = field(default=None, converter=_optional_float)
    max_value: float | None = field(default=None, converter=_optional_float)
    pattern: str | None = field(default=None, validator=_valid_pattern)

    def __attrs_post_init__(self) -> None:
        _check_whole_limits(self.name, self.data_type, self.min_value, self.max_value)


@frozen
class ChannelEndpoint:
    """An endpoint type a connector handles, and in which directions.

    ``can_send``: messages can be sent to such an address; ``can_receive``: messages can come
    from one. ``required``: every message must use this endpoint type (as sender or receiver).
    """

    type: EndpointType = field(converter=EndpointType)
    can_send: bool = True
    can_receive: bool = False
    required: bool = False


@frozen
class MessagePropertyConstraint:
    """Limits on a message property's value."""

    min_value: float | None = field(default=None, converter=_optional_float)
    max_value: float | None = field(default=None, converter=_optional_float)
    min_length: int | None = field(default=None, converter=_optional_int)
    max_length: int | None = field(default=None, converter=_optional_int)
    pattern: str | None = field(default=None, validator=_valid_pattern)
    allowed_values: tuple[Any, ...] = field(default=(), converter=_tuple)


@frozen
class MessagePropertySchema:
    """A message property a connector understands (``ValidityPeriod``, ``MaxPrice``...)."""

    name: str
    data_type: ParameterType = field(default=ParameterType.STRING, converter=ParameterType)
    required: bool = False
    description: str = ""
    constraints: MessagePropertyConstraint = field(factory=MessagePropertyConstraint)

    def __attrs_post_init__(self) -> None:
        c = self.constraints
        _check_whole_limits(self.name, self.data_type, c.min_value, c.max_value)

    @classmethod
    def of(
        cls, name: str, data_type: ParameterType, description: str = "", *,
        required: bool = False, **constraints: Any,
    ) -> MessagePropertySchema:
        """A property with its constraints given as keywords (``min_value=1, max_value=36000``)."""
        return cls(name, data_type, required, description,
                   MessagePropertyConstraint(**constraints))


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
        """The parameter playing ``role`` (principal or credential), if any."""
        for f in self.fields:
            if f.role == role:
                return f.parameter
        return None

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the parameters this configuration uses."""
        return tuple(f.parameter for f in self.fields)


COMMON_PARAMETERS: tuple[ChannelParameter, ...] = (
    ChannelParameter(
        "Timeout",
        ParameterType.NUMBER,
        default=30.0,
        min_value=0.1,
        description="Seconds to wait for the provider to answer one request.",
    ),
    ChannelParameter(
        "MaxRetries",
        ParameterType.INTEGER,
        default=3,
        min_value=0,
        max_value=10,
        description="How many times a retryable failure is retried before giving up.",
    ),
    ChannelParameter(
        "RetryBaseDelay",
        ParameterType.NUMBER,
        default=0.5,
        min_value=0,
        description="Seconds before the first retry; later retries back off exponentially.",
    ),
    ChannelParameter(
        "RetryMaxDelay",
        ParameterType.NUMBER,
        default=30.0,
        min_value=0,
        description="The longest wait between two retries, in seconds.",
    ),
    ChannelParameter(
        "MessagesPerSecond",
        ParameterType.NUMBER,
        default=0.0,
        min_value=0,
        description="Client-side rate limit for sending; 0 means unlimited.",
    ),
)
"""Parameters the connector base reads; providers include them in their schemas."""


# --------------------------------------------------------------------------------------------
# value conversion and checks
# --------------------------------------------------------------------------------------------


def _is_json_value(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in value.items())
    return False


def _to_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # a plain JSON string
    if _is_json_value(value):
        return value
    raise InvalidValue("a JSON value (text, number, true/false, null, list or object)")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Secret):  # a setting given as a Secret: its text (the name is secret)
        return value.reveal()
    raise InvalidValue("text")


_CONVERTERS: dict[ParameterType, Callable[[Any], Any]] = {
    ParameterType.STRING: _to_string,
    ParameterType.INTEGER: _values.parse_int,
    ParameterType.NUMBER: _values.parse_number,
    ParameterType.BOOLEAN: _values.parse_bool,
    ParameterType.URL: _values.parse_url,
    ParameterType.DATETIME: _values.parse_datetime,
    ParameterType.JSON: _to_json,
}


def convert_value(value: Any, data_type: ParameterType) -> Any:
    """``value`` converted to ``data_type``'s Python type; ValueError when it does not convert.

    INTEGER -> int, NUMBER -> float (a :class:`~decimal.Decimal` stays a Decimal), BOOLEAN ->
    bool, URL and STRING -> str, DATETIME -> datetime, JSON -> the decoded value.
    """
    try:
        return _CONVERTERS[ParameterType(data_type)](value)
    except InvalidValue as exc:
        raise ValueError(str(exc)) from None


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _contains(values: Iterable[Any], value: Any) -> bool:
    return any(_loosely_equal(v, value) for v in values)


def _loosely_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return bool(a == b)
    return bool(type(a) is type(b) and a == b)


def _allowed_for(values: tuple[Any, ...], data_type: ParameterType) -> list[Any]:
    result = []
    for allowed in values:
        try:
            result.append(convert_value(allowed, data_type))
        except ValueError:
            result.append(allowed)
    return result


def _check_value(
    subject: str,
    value: Any,
    data_type: ParameterType,
    *,
    allowed_values: tuple[Any, ...] = (),
    min_value: float | None = None,
    max_value: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    sensitive: bool = False,
) -> tuple[Any, list[tuple[str, str]]]:
    """Convert ``value`` and check it; returns the converted value and ``(code, sentence)`` pairs.

    ``subject`` starts each sentence (``"The Timeout parameter"``). A sensitive value is never
    shown.
    """
    got = "" if sensitive else f", not {_shown(value)}"
    try:
        converted = convert_value(value, data_type)
    except ValueError as exc:
        return value, [("type", f"{subject} {exc.args[0]}{got}.")]
    problems: list[tuple[str, str]] = []
    if allowed_values:
        allowed = _allowed_for(allowed_values, data_type)
        if not _contains(allowed, converted):
            listed = ", ".join(str(v) for v in allowed)
            problems.append(("allowed_values", f"{subject} must be one of: {listed}{got}."))
    is_number = isinstance(converted, (int, float, Decimal)) and not isinstance(converted, bool)
    if is_number and min_value is not None and converted < min_value:
        problems.append(("min_value", f"{subject} must be at least {_fmt_number(min_value)}{got}."))
    if is_number and max_value is not None and converted > max_value:
        problems.append(("max_value", f"{subject} must be at most {_fmt_number(max_value)}{got}."))
    if isinstance(converted, (str, list, tuple)):
        if min_length is not None and len(converted) < min_length:
            problems.append(
                ("min_length", f"{subject} must be at least {min_length} characters long{got}.")
            )
        if max_length is not None and len(converted) > max_length:
            problems.append(
                ("max_length", f"{subject} must be at most {max_length} characters long{got}.")
            )
    if pattern is not None:
        text = value if isinstance(value, str) else str(converted)
        if not _matches(pattern, text):
            problems.append(("pattern", f"{subject} must match the pattern {pattern}{got}."))
    return converted, problems


def _matches(pattern: str, text: str) -> bool:
    """Whether the whole of ``text`` matches ``pattern`` (``$`` never accepts a final newline)."""
    return re.fullmatch(pattern, text) is not None


def _content_parts(content: Content) -> Iterator[Content]:
    if isinstance(content, MultipartContent):
        for part in content.parts:
            yield from _content_parts(part)
    else:
        yield content


_INTERACTIVE_KINDS = frozenset(
    {
        MessageContentType.BUTTON,
        MessageContentType.QUICK_REPLY,
        MessageContentType.CAROUSEL,
        MessageContentType.LIST_PICKER,
    }
)


def _unique(
    kind: str, key: Callable[[Any], Any]
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_instance: Any, _attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
        seen: set[Any] = set()
        for item in value:
            k = key(item)
            if k in seen:
                raise SchemaDefinitionError(f"the schema declares the {kind} {k!s} twice")
            seen.add(k)

    return check


def _endpoint_label(endpoint_type: EndpointType) -> str:
    return endpoint_type.value.replace("_", " ")


# --------------------------------------------------------------------------------------------
# the schema
# --------------------------------------------------------------------------------------------


@frozen
class ChannelSchema:
    """Describes a connector: identity, capabilities, contents, endpoints, parameters, properties.

    ``strict`` schemas reject connection parameters and message properties they do not declare;
    flexible ones pass them on. ``name`` is the preset's name (``"SimpleSms"``) when the schema is a
    preset. ``authentication_required``: settings must complete at least one of the
    ``authentication`` configurations (every parameter it names given, or defaulted); when none is
    complete, settings validation reports the missing credentials (issue code ``credentials``) and
    :meth:`resolve_settings` fails with ``MISSING_CREDENTIALS``.
    """

    provider: str
    type: str
    version: str
    display_name: str = ""
    description: str = ""
    name: str | None = None
    capabilities: ChannelCapability = ChannelCapability.NONE
    content_types: tuple[MessageContentType, ...] = field(default=(), converter=_tuple)
    endpoints: tuple[ChannelEndpoint, ...] = field(
        default=(), converter=_tuple, validator=_unique("endpoint", lambda e: e.type.value)
    )
    parameters: tuple[ChannelParameter, ...] = field(
        default=(), converter=_tuple, validator=_unique("parameter", lambda p: p.name)
    )
    message_properties: tuple[MessagePropertySchema, ...] = field(
        default=(), converter=_tuple, validator=_unique("message property", lambda p: p.name)
    )
    authentication: tuple[AuthenticationConfiguration, ...] = field(default=(), converter=_tuple)
    strict: bool = True
    authentication_required: bool = field(default=False)

    @authentication_required.validator
    def _needs_a_configuration(self, _attribute: attrs.Attribute[Any], value: bool) -> None:
        if value and not self.authentication:
            raise SchemaDefinitionError(
                f"{self.identity} requires authentication but declares no authentication "
                "configuration"
            )

    @property
    def identity(self) -> str:
        """``provider/type/version``."""
        return f"{self.provider}/{self.type}/{self.version}"

    @property
    def connector_id(self) -> str:
        """``provider/type``, the id ``ratatosk.connect`` takes."""
        return f"{self.provider}/{self.type}"

    def has_capability(self, capability: ChannelCapability) -> bool:
        """Whether every flag in ``capability`` is declared."""
        return (self.capabilities & capability) == capability

    def parameter(self, name: str) -> ChannelParameter | None:
        """The parameter of that name, or None."""
        for p in self.parameters:
            if p.name == name:
                return p
        return None

    def message_property(self, name: str) -> MessagePropertySchema | None:
        """The message property of that name, or None."""
        for p in self.message_properties:
            if p.name == name:
                return p
        return None

    def endpoint(self, endpoint_type: EndpointType | str) -> ChannelEndpoint | None:
        """The endpoint declared for that type, or None."""
        wanted = EndpointType(endpoint_type)
        for e in self.endpoints:
            if e.type == wanted:
                return e
        return None

    @property
    def sensitive_parameters(self) -> tuple[str, ...]:
        """Names of the parameters declared sensitive."""
        return tuple(p.name for p in self.parameters if p.sensitive)

    # -- settings ---------------------------------------------------------------------------
    def _check_settings(
        self, settings: ConnectionSettings | Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[ValidationIssue]]:
        if isinstance(settings, ConnectionSettings):
            values = settings.parameters
            secret: Callable[[str], bool] = settings.is_sensitive
        elif isinstance(settings, Mapping):
            values = dict(settings)
            secret = looks_sensitive
        else:
            raise TypeError("settings must be ConnectionSettings or a mapping of names to values")
        resolved: dict[str, Any] = {}
        issues: list[ValidationIssue] = []
        # a parameter is found under any spelling of its name (AuthToken, auth_token, authToken);
        # problems name it as the schema does
        declared = {normalize_parameter_name(p.name): p.name for p in self.parameters}
        given: dict[str, tuple[str, Any]] = {}
        for name, value in values.items():
            key = normalize_parameter_name(name)
            if key in given and key in declared:
                canonical = declared[key]
                issues.append(ValidationIssue(
                    canonical,
                    f"The {canonical} parameter is given twice ({given[key][0]} and {name}); "
                    "give it once.",
                    "duplicate",
                ))
            given.setdefault(key, (name, value))
        for param in self.parameters:
            value = given.get(normalize_parameter_name(param.name), (param.name, None))[1]
            if _is_unset(value):
                if param.default is not None:
                    try:
                        resolved[param.name] = convert_value(param.default, param.data_type)
                    except ValueError:
                        resolved[param.name] = param.default
                elif param.required:
                    issues.append(
                        ValidationIssue(
                            param.name,
                            f"The {param.name} parameter is required but was not given.",
                            "required",
                        )
                    )
                else:
                    resolved[param.name] = None
                continue
            converted, problems = _check_value(
                f"The {param.name} parameter",
                value,
                param.data_type,
                allowed_values=param.allowed_values,
                min_value=param.min_value,
                max_value=param.max_value,
                pattern=param.pattern,
                sensitive=param.sensitive or secret(param.name),
            )
            issues.extend(ValidationIssue(param.name, text, code) for code, text in problems)
            resolved[param.name] = converted
        for name, value in values.items():
            if normalize_parameter_name(name) in declared:
                continue
            if self.strict:
                close = difflib.get_close_matches(normalize_parameter_name(name), declared,
                                                  n=1, cutoff=0.8)
                hint = f" (did you mean {declared[close[0]]}?)" if close else ""
                issues.append(
                    ValidationIssue(
                        name,
                        f"{name} is not a parameter of the {self.connector_id} connector; "
                        f"check its spelling{hint}.",
                        "unknown",
                    )
                )
            else:
                resolved[name] = value
        issues += self._credential_issues(resolved)
        return resolved, issues

    def _credential_issues(self, resolved: Mapping[str, Any]) -> list[ValidationIssue]:
        """With ``authentication_required``: when no authentication configuration is complete,
        one ``credentials`` issue per missing parameter of the configuration the settings come
        closest to. Parameters required anyway are left out (a ``required`` issue names them)."""
        if not self.authentication_required:
            return []
        required = {p.name for p in self.parameters if p.required}

        def missing(auth: AuthenticationConfiguration) -> list[str]:
            return [
                n for n in auth.parameters if n not in required and _is_unset(resolved.get(n))
            ]

        def own(auth: AuthenticationConfiguration) -> list[str]:
            return [n for n in auth.parameters if n not in required]

        if any(not missing(auth) for auth in self.authentication):
            return []
        # the configuration with most of its own parameters given (the first on a tie)
        closest = max(self.authentication, key=lambda a: len(own(a)) - len(missing(a)))
        text = f"No credentials are complete: give {self._credential_options()}."
        return [ValidationIssue(name, text, "credentials") for name in missing(closest)]

    def _credential_options(self) -> str:
        """The authentication configurations as a sentence part: ``"AuthToken, or ApiKeySid and
        ApiKeySecret"`` (parameters required anyway are left out)."""
        required = {p.name for p in self.parameters if p.required}
        return ", or ".join(
            " and ".join([n for n in a.parameters if n not in required] or a.parameters)
            for a in self.authentication
        )

    def validate_settings(
        self, settings: ConnectionSettings | Mapping[str, Any]
    ) -> list[ValidationIssue]:
        """Every problem with these settings: missing, mistyped, disallowed or unknown parameters,
        and missing credentials when the schema requires authentication.

        Text values are accepted when they convert to the declared type (see
        :class:`ParameterType`). An empty value counts as not given. Unknown parameters are
        problems in strict schemas only. Messages never contain a sensitive value.
        """
        return self._check_settings(settings)[1]

    def resolve_settings(
        self, settings: ConnectionSettings | Mapping[str, Any]
    ) -> Result[dict[str, Any]]:
        """The settings validated and converted, with defaults applied, or every problem found.

        The dict holds every declared parameter (None when neither given nor defaulted), with
        values of the declared Python type (``int``, ``float`` - a ``Decimal`` stays a
        ``Decimal`` -, ``bool``, ``str``, ``datetime``), plus, in flexible schemas, undeclared
        parameters as given. On failure the error is ``INVALID_CONFIGURATION`` (domain
        ``messaging``) with every problem in ``issues``, or ``MISSING_CREDENTIALS`` when the only
        problem is that no required authentication configuration is complete. Parameters the
        schema declares sensitive are marked sensitive on a :class:`~ratatosk.ConnectionSettings`
        passed in.
        """
        if isinstance(settings, ConnectionSettings):
            settings.mark_sensitive(*self.sensitive_parameters)
        resolved, issues = self._check_settings(settings)
        if issues and all(issue.code == "credentials" for issue in issues):
            return Err(
                ErrorInfo(
                    MessagingErrorCodes.MISSING_CREDENTIALS,
                    f"The connection settings for {self.identity} have no complete credentials:"
                    f" give {self._credential_options()}.",
                    issues=issues,
                )
            )
        if issues:
            count = "1 problem" if len(issues) == 1 else f"{len(issues)} problems"
            return Err(
                ErrorInfo(
                    MessagingErrorCodes.INVALID_CONFIGURATION,
                    f"The connection settings are not valid for {self.identity} ({count}).",
                    issues=issues,
                )
            )
        return Ok(resolved)

    # -- messages ---------------------------------------------------------------------------
    def validate_message(self, message: Message) -> list[ValidationIssue]:
        """Every problem that keeps this schema's connector from sending ``message``.

        Checks the content (present, of a declared type, with the capability it needs), the
        receiver (present, of a type declared with ``can_send``), the sender (when given, of a
        declared type), required endpoint types and the message properties (types, constraints,
        required ones; undeclared ones only in strict schemas).
        """
        issues: list[ValidationIssue] = []
        self._check_content(message.content, issues)
        self._check_endpoints(message, issues)
        self._check_properties(message.properties, issues)
        return issues

    def _check_content(self, content: Content | None, issues: list[ValidationIssue]) -> None:
        def add(where: str, text: str, code: str) -> None:
            issues.append(ValidationIssue(where, text, code))

        if content is None:
            add("content", "The message has no content.", "required")
            return
        kinds = set(self.content_types)
        if isinstance(content, MultipartContent):
            parts = list(_content_parts(content))
            if not parts:
                add("content", "The multipart content has no parts.", "empty")
            if MessageContentType.MULTIPART not in kinds and not all(
                isinstance(p, (TextContent, MediaContent)) for p in parts
            ):
                add(
                    "content",
                    "This channel accepts several parts only as text with media attachments.",
                    "unsupported_content",
                )
            labelled = [(f"content.parts[{i}]", p) for i, p in enumerate(parts)]
        else:
            labelled = [("content", content)]
        for where, part in labelled:
            if part.kind not in kinds:
                add(
                    where,
                    f"This channel does not accept {part.kind.value.replace('_', ' ')} content.",
                    "unsupported_content",
                )
            if isinstance(part, MediaContent) and not part.file_url and not part.data:
                add(where, "A media attachment needs a URL or data.", "required")
            if isinstance(part, TextContent) and len(labelled) == 1 and not part.text.strip():
                add(where, "The text is empty.", "empty")
            if isinstance(part, TemplateContent) and not part.template_id.strip():
                add(where, "The template id is empty.", "empty")
        present = {part.kind for _, part in labelled}
        needs = (
            (
                MessageContentType.MEDIA in present,
                ChannelCapability.MEDIA_ATTACHMENTS,
                "media attachments",
            ),
            (MessageContentType.TEMPLATE in present, ChannelCapability.TEMPLATES, "templates"),
            (
                bool(present & _INTERACTIVE_KINDS),
                ChannelCapability.INTERACTIVE_CONTENT,
                "interactive content",
            ),
        )
        for used, capability, what in needs:
            if used and not self.has_capability(capability):
                add(
                    "content",
                    f"This channel does not support {what} (it lacks the "
                    f"{capability.name} capability).",
                    "capability",
                )

    def _check_endpoints(self, message: Message, issues: list[ValidationIssue]) -> None:
        any_endpoint = self.endpoint(EndpointType.ANY)
        receiver, sender = message.receiver, message.sender
        if receiver is None:
            issues.append(ValidationIssue("receiver", "The message has no receiver.", "required"))
        else:
            declared = self.endpoint(receiver.type) or any_endpoint
            label = _endpoint_label(receiver.type)
            if declared is None:
                issues.append(
                    ValidationIssue(
                        "receiver",
                        f"This channel cannot send to a {label} endpoint.",
                        "unsupported",
                    )
                )
            elif not declared.can_send:
                issues.append(
                    ValidationIssue(
                        "receiver",
                        f"This channel cannot send to a {label} endpoint (receive only).",
                        "direction",
                    )
                )
            if not receiver.address.strip():
                issues.append(
                    ValidationIssue("receiver", "The receiver's address is empty.", "empty")
                )
            elif receiver.type == EndpointType.PHONE_NUMBER:
                problem = phone_number_problem(receiver.address)
                if problem is not None:
                    issues.append(ValidationIssue("receiver", problem, "format"))
        if sender is not None:
            if (self.endpoint(sender.type) or any_endpoint) is None:
                issues.append(
                    ValidationIssue(
                        "sender",
                        f"This channel does not use {_endpoint_label(sender.type)} endpoints.",
                        "unsupported",
                    )
                )
            if not sender.address.strip():
                issues.append(ValidationIssue("sender", "The sender's address is empty.", "empty"))
            elif sender.type == EndpointType.PHONE_NUMBER:
                problem = phone_number_problem(sender.address)
                if problem is not None:
                    issues.append(ValidationIssue("sender", problem, "format"))
        used = {e.type for e in (sender, receiver) if e is not None}
        for endpoint in self.endpoints:
            if (
                endpoint.required
                and endpoint.type != EndpointType.ANY
                and endpoint.type not in used
            ):
                where = "receiver" if endpoint.can_send else "sender"
                issues.append(
                    ValidationIssue(
                        where,
                        f"This channel requires a {_endpoint_label(endpoint.type)} endpoint.",
                        "required",
                    )
                )

    def _check_properties(
        self, properties: Mapping[str, Any], issues: list[ValidationIssue]
    ) -> None:
        for prop in self.message_properties:
            where = f"properties.{prop.name}"
            value = properties.get(prop.name)
            if value is None:
                if prop.required:
                    issues.append(
                        ValidationIssue(
                            where,
                            f"The {prop.name} property is required but was not given.",
                            "required",
                        )
                    )
                continue
            c = prop.constraints
            _, problems = _check_value(
                f"The {prop.name} property",
                value,
                prop.data_type,
                allowed_values=c.allowed_values,
                min_value=c.min_value,
                max_value=c.max_value,
                min_length=c.min_length,
                max_length=c.max_length,
                pattern=c.pattern,
            )
            issues.extend(ValidationIssue(where, text, code) for code, text in problems)
        if self.strict:
            for name in properties:
                if self.message_property(name) is None:
                    issues.append(
                        ValidationIssue(
                            f"properties.{name}",
                            f"{name} is not a message property of the {self.connector_id} "
                            "connector; check its spelling.",
                            "unknown",
                        )
                    )

    # -- derivation -------------------------------------------------------------------------
    def derive(
        self,
        *,
        name: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        strict: bool | None = None,
        version: str | None = None,
    ) -> ChannelSchema:
        """A new schema with these descriptive fields changed (None keeps the current value).

        Turning a strict schema flexible is allowed here, but such a schema is then not a
        restriction of this one (see :meth:`is_restriction_of`).
        """
        changes: dict[str, Any] = {
            "name": name,
            "display_name": display_name,
            "description": description,
            "strict": strict,
            "version": version,
        }
        return attrs.evolve(self, **{k: v for k, v in changes.items() if v is not None})

    def remove_capabilities(self, *capabilities: ChannelCapability) -> ChannelSchema:
        """A new schema without these capabilities; ValueError for one not declared."""
        removed = ChannelCapability.NONE
        for capability in capabilities:
            if not self.has_capability(capability):
                raise ValueError(f"{self.identity} does not declare {capability!r}")
            removed |= capability
        return attrs.evolve(self, capabilities=self.capabilities & ~removed)

    def remove_content_types(self, *content_types: MessageContentType | str) -> ChannelSchema:
        """A new schema without these content types; ValueError for one not declared."""
        removed = {MessageContentType(t) for t in content_types}
        missing = removed - set(self.content_types)
        if missing:
            raise ValueError(
                f"{self.identity} does not declare content type(s) "
                + ", ".join(sorted(t.value for t in missing))
            )
        return attrs.evolve(
            self, content_types=tuple(t for t in self.content_types if t not in removed)
        )

    def remove_endpoints(self, *endpoint_types: EndpointType | str) -> ChannelSchema:
        """A new schema without these endpoint types; ValueError for one not declared."""
        removed = {EndpointType(t) for t in endpoint_types}
        missing = removed - {e.type for e in self.endpoints}
        if missing:
            raise ValueError(
                f"{self.identity} does not declare endpoint(s) "
                + ", ".join(sorted(t.value for t in missing))
            )
        return attrs.evolve(
            self, endpoints=tuple(e for e in self.endpoints if e.type not in removed)
        )

    def require_authentication(self) -> ChannelSchema:
        """A new schema in which one of the authentication configurations must be complete
        (a narrowing); SchemaDefinitionError when the schema declares none."""
        return attrs.evolve(self, authentication_required=True)

    def remove_parameters(self, *names: str) -> ChannelSchema:
        """A new schema without these parameters (and the authentication configurations using
        them); ValueError for a name not declared."""
        missing = [n for n in names if self.parameter(n) is None]
        if missing:
            raise ValueError(f"{self.identity} has no parameter(s) {', '.join(missing)}")
        gone = set(names)
        return attrs.evolve(
            self,
            parameters=tuple(p for p in self.parameters if p.name not in gone),
            authentication=tuple(
                a for a in self.authentication if not gone.intersection(a.parameters)
            ),
        )

    def remove_message_properties(self, *names: str) -> ChannelSchema:
        """A new schema without these message properties; ValueError for a name not declared."""
        missing = [n for n in names if self.message_property(n) is None]
        if missing:
            raise ValueError(f"{self.identity} has no message property(ies) {', '.join(missing)}")
        gone = set(names)
        return attrs.evolve(
            self, message_properties=tuple(p for p in self.message_properties if p.name not in gone)
        )

    def restrict_parameter(
        self,
        name: str,
        *,
        required: bool | None = None,
        allowed_values: Iterable[Any] | None = None,
        min_value: float | None = None,
        max_value: float | None = None,
        pattern: str | None = None,
        default: Any = None,
    ) -> ChannelSchema:
        """A new schema with parameter ``name`` narrowed (None keeps a value as it is).

        Raises ValueError for an unknown name, for a change that would widen the parameter
        (making it optional, allowing more values, a wider range, another pattern) and for a
        default the narrowed parameter rejects.
        """
        base = self.parameter(name)
        if base is None:
            raise ValueError(f"{self.identity} has no parameter {name}")
        changes: dict[str, Any] = {
            "required": required,
            "min_value": min_value,
            "max_value": max_value,
            "pattern": pattern,
            "default": default,
        }
        if allowed_values is not None:
            changes["allowed_values"] = tuple(allowed_values)
        narrowed = attrs.evolve(base, **{k: v for k, v in changes.items() if v is not None})
        problems = _parameter_problems(narrowed, base)
        problems += _range_problems(narrowed.min_value, narrowed.max_value)
        if narrowed.default is not None:
            _, bad = _check_value(
                "the default",
                narrowed.default,
                narrowed.data_type,
                allowed_values=narrowed.allowed_values,
                min_value=narrowed.min_value,
                max_value=narrowed.max_value,
                pattern=narrowed.pattern,
                sensitive=narrowed.sensitive,
            )
            problems += [text.rstrip(".") for _, text in bad]
        if problems:
            raise ValueError(f"cannot restrict parameter {name}: " + "; ".join(problems))
        return attrs.evolve(
            self, parameters=tuple(narrowed if p.name == name else p for p in self.parameters)
        )

    def restrict_message_property(
        self,
        name: str,
        *,
        required: bool | None = None,
        allowed_values: Iterable[Any] | None = None,
        min_value: float | None = None,
        max_value: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
    ) -> ChannelSchema:
        """A new schema with message property ``name`` narrowed (None keeps a value as it is).

        Raises ValueError for an unknown name or a change that would widen the property.
        """
        base = self.message_property(name)
        if base is None:
            raise ValueError(f"{self.identity} has no message property {name}")
        changes: dict[str, Any] = {
            "min_value": min_value,
            "max_value": max_value,
            "min_length": min_length,
            "max_length": max_length,
            "pattern": pattern,
        }
        if allowed_values is not None:
            changes["allowed_values"] = tuple(allowed_values)
        constraints = attrs.evolve(
            base.constraints, **{k: v for k, v in changes.items() if v is not None}
        )
        narrowed = attrs.evolve(
            base,
            required=base.required if required is None else required,
            constraints=constraints,
        )
        problems = _property_problems(narrowed, base)
        problems += _range_problems(constraints.min_value, constraints.max_value)
        problems += _range_problems(constraints.min_length, constraints.max_length, "length")
        if problems:
            raise ValueError(f"cannot restrict message property {name}: " + "; ".join(problems))
        return attrs.evolve(
            self,
            message_properties=tuple(
                narrowed if p.name == name else p for p in self.message_properties
            ),
        )

    def restrict_endpoint(
        self,
        endpoint_type: EndpointType | str,
        *,
        can_send: bool | None = None,
        can_receive: bool | None = None,
        required: bool | None = None,
    ) -> ChannelSchema:
        """A new schema with an endpoint's directions narrowed or the endpoint made required.

        Raises ValueError for an undeclared endpoint type or a change that would widen it.
        """
        wanted = EndpointType(endpoint_type)
        base = self.endpoint(wanted)
        if base is None:
            raise ValueError(f"{self.identity} does not declare endpoint {wanted.value}")
        changes = {"can_send": can_send, "can_receive": can_receive, "required": required}
        narrowed = attrs.evolve(base, **{k: v for k, v in changes.items() if v is not None})
        problems = _endpoint_problems(narrowed, base)
        if problems:
            raise ValueError(f"cannot restrict endpoint {wanted.value}: " + "; ".join(problems))
        return attrs.evolve(
            self, endpoints=tuple(narrowed if e.type == wanted else e for e in self.endpoints)
        )

    # -- restriction check ------------------------------------------------------------------
    def restriction_problems(self, base: ChannelSchema) -> list[str]:
        """Why this schema is not a restriction of ``base`` (empty when it is)."""
        problems: list[str] = []
        if (self.provider, self.type) != (base.provider, base.type):
            problems.append(
                f"it is for {self.connector_id}, the base schema for {base.connector_id}"
            )
        extra = self.capabilities & ~base.capabilities
        problems += [f"capability {n} is not in the base schema" for n in extra.names()]
        problems += [
            f"content type {t.value} is not in the base schema"
            for t in self.content_types
            if t not in base.content_types
        ]
        for endpoint in self.endpoints:
            base_endpoint = base.endpoint(endpoint.type)
            if base_endpoint is None:
                problems.append(f"endpoint {endpoint.type.value} is not in the base schema")
            else:
                problems += [
                    f"endpoint {endpoint.type.value}: {p}"
                    for p in _endpoint_problems(endpoint, base_endpoint)
                ]
        for base_endpoint in base.endpoints:
            if base_endpoint.required and self.endpoint(base_endpoint.type) is None:
                problems.append(
                    f"endpoint {base_endpoint.type.value} is required in the base schema"
                    " but missing"
                )
        for param in self.parameters:
            base_param = base.parameter(param.name)
            if base_param is None:
                problems.append(f"parameter {param.name} is not in the base schema")
            else:
                problems += [
                    f"parameter {param.name}: {p}" for p in _parameter_problems(param, base_param)
                ]
        for prop in self.message_properties:
            base_prop = base.message_property(prop.name)
            if base_prop is None:
                problems.append(f"message property {prop.name} is not in the base schema")
            else:
                problems += [
                    f"message property {prop.name}: {p}"
                    for p in _property_problems(prop, base_prop)
                ]
        if base.strict and not self.strict:
            problems.append("it is flexible but the base schema is strict")
        if base.authentication_required and not self.authentication_required:
            problems.append("authentication is optional but required in the base schema")
        base_auth = [(a.scheme, a.fields) for a in base.authentication]
        for auth in self.authentication:
            if (auth.scheme, auth.fields) not in base_auth:
                used = ", ".join(auth.parameters)
                problems.append(
                    f"authentication {auth.scheme.value} ({used}) is not in the base schema"
                )
        return problems

    def is_restriction_of(self, base: ChannelSchema) -> bool:
        """Whether this schema only narrows ``base``: same provider and type; capabilities,
        content types, endpoints, parameters, properties and authentication a subset, none of
        them widened, not turned flexible. :meth:`restriction_problems` says why not."""
        return not self.restriction_problems(base)

    # -- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """This schema as plain JSON data (format ``ratatosk.schema/1``, stable key order)."""
        from ._json import unstructure_schema  # cattrs: loaded on first use, not on start-up

        return unstructure_schema(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelSchema:
        """A schema from :meth:`to_dict`'s data; ValueError saying what is wrong otherwise."""
        from ._json import structure_schema  # cattrs: loaded on first use, not on start-up

        return structure_schema(data)

    def to_json(self, indent: int | None = 2) -> str:
        """This schema as JSON text (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the ``ratatosk.schema/1`` format that
        :meth:`to_dict` writes and :meth:`from_dict` reads, for tools in any language.

        Shipped with the package as ``ratatosk/data/channel-schema.schema.json``.
        """
        import importlib.resources  # ~20 ms of imports: only when asked for

        resource = (importlib.resources.files("ratatosk") / "data" / SCHEMA_JSON_SCHEMA_FILE)
        data: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
        return data

    @classmethod
    def from_json(cls, text: str | bytes) -> ChannelSchema:
        """A schema from :meth:`to_json`'s text; ValueError when it is not valid."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"the schema is not valid JSON: {exc}") from None
        return cls.from_dict(data)


# --------------------------------------------------------------------------------------------
# narrowing checks shared by restrict_* and restriction_problems
# --------------------------------------------------------------------------------------------


def _range_problems(low: float | None, high: float | None, what: str = "value") -> list[str]:
    if low is not None and high is not None and low > high:
        return [f"min {what} {_fmt_number(low)} is above max {what} {_fmt_number(high)}"]
    return []


def _limit_problems(
    derived: tuple[Any, ...], base: tuple[Any, ...], names: tuple[str, str]
) -> list[str]:
    """Min/max pairs: ``derived`` = (min, max) must lie within ``base``."""
    problems = []
    (low, high), (base_low, base_high) = derived, base
    if base_low is not None and (low is None or low < base_low):
        problems.append(f"{names[0]} widens the base's {_fmt_number(base_low)}")
    if base_high is not None and (high is None or high > base_high):
        problems.append(f"{names[1]} widens the base's {_fmt_number(base_high)}")
    return problems


def _allowed_problems(derived: tuple[Any, ...], base: tuple[Any, ...]) -> list[str]:
    if not base:
        return []
    if not derived:
        return ["allows any value but the base allows only some"]
    extra = [v for v in derived if not _contains(base, v)]
    if extra:
        return [
            "allowed values " + ", ".join(str(v) for v in extra) + " are not allowed by the base"
        ]
    return []


def _pattern_problems(derived: str | None, base: str | None) -> list[str]:
    if base is not None and derived != base:
        return ["its pattern differs from the base's"]
    return []


def _parameter_problems(param: ChannelParameter, base: ChannelParameter) -> list[str]:
    problems = []
    if param.data_type != base.data_type:
        problems.append(
            f"type {param.data_type.value} differs from the base's {base.data_type.value}"
        )
    if base.required and not param.required:
        problems.append("it is optional but required in the base")
    if base.sensitive and not param.sensitive:
        problems.append("it is not sensitive but sensitive in the base")
    problems += _allowed_problems(param.allowed_values, base.allowed_values)
    problems += _limit_problems(
        (param.min_value, param.max_value),
        (base.min_value, base.max_value),
        ("min value", "max value"),
    )
    problems += _pattern_problems(param.pattern, base.pattern)
    return problems


def _property_problems(prop: MessagePropertySchema, base: MessagePropertySchema) -> list[str]:
    problems = []
    if prop.data_type != base.data_type:
        problems.append(
            f"type {prop.data_type.value} differs from the base's {base.data_type.value}"
        )
    if base.required and not prop.required:
        problems.append("it is optional but required in the base")
    c, b = prop.constraints, base.constraints
    problems += _allowed_problems(c.allowed_values, b.allowed_values)
    problems += _limit_problems(
        (c.min_value, c.max_value), (b.min_value, b.max_value), ("min value", "max value")
    )
    problems += _limit_problems(
        (c.min_length, c.max_length), (b.min_length, b.max_length), ("min length", "max length")
    )
    problems += _pattern_problems(c.pattern, b.pattern)
    return problems


def _endpoint_problems(endpoint: ChannelEndpoint, base: ChannelEndpoint) -> list[str]:
    problems = []
    if endpoint.can_send and not base.can_send:
        problems.append("it can send but the base cannot")
    if endpoint.can_receive and not base.can_receive:
        problems.append("it can receive but the base cannot")
    if base.required and not endpoint.required:
        problems.append("it is optional but required in the base")
    return problems


__all__ = [
    "COMMON_PARAMETERS",
    "SCHEMA_FORMAT",
    "AuthenticationConfiguration",
    "AuthenticationField",
    "AuthenticationFieldRole",
    "AuthenticationScheme",
    "ChannelCapability",
    "ChannelEndpoint",
    "ChannelParameter",
    "ChannelSchema",
    "MessagePropertyConstraint",
    "MessagePropertySchema",
    "ParameterType",
    "SchemaDefinitionError",
    "convert_value",
]
