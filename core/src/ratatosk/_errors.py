"""Error codes, error details and the exception raised by ``Result.unwrap()``."""

from __future__ import annotations

import enum
from typing import Any, ClassVar

from attrs import Factory, field, frozen

_CODE_SETS: dict[str, type[ErrorCode]] = {}
"""Domain -> its code set (filled as code sets are defined)."""


class ErrorCode(str, enum.Enum):
    """The base of every set of error codes: a ``str``-valued enum whose values are their names.

    A set declares its domain where it is defined, ``class MyCodes(ErrorCode, domain="mine")``;
    ``MyCodes.DOMAIN`` is that domain. A code is a ``str``: ``code == "RATE_LIMITED"`` holds and
    ``str(code)`` / ``f"{code}"`` give its value. An :class:`ErrorInfo` built with a code takes
    its domain from the code's set.
    """

    DOMAIN: ClassVar[str]

    def __init_subclass__(cls, *, domain: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not domain:
            raise TypeError(f"{cls.__name__} must declare its domain: "
                            f"class {cls.__name__}(ErrorCode, domain=...)")
        if domain in _CODE_SETS and _CODE_SETS[domain].__qualname__ != cls.__qualname__:
            raise TypeError(f"the error domain {domain!r} already has a code set "
                            f"({_CODE_SETS[domain].__qualname__})")
        cls.DOMAIN = domain
        _CODE_SETS[domain] = cls

    def __str__(self) -> str:
        return str.__str__(self)

    @classmethod
    def all_codes(cls) -> tuple[str, ...]:
        """Every code the set defines, in definition order."""
        return tuple(cls)

    @classmethod
    def of(cls, domain: str, code: str) -> ErrorCode | None:
        """The code ``code`` of the set whose domain is ``domain`` (None when unknown)."""
        codes = _CODE_SETS.get(domain)
        if codes is None:
            return None
        return codes._value2member_map_.get(code)  # type: ignore[return-value]


class MessagingErrorCodes(ErrorCode, domain="messaging"):
    """Provider-neutral codes for errors while messaging (domain ``messaging``)."""

    MESSAGING_ERROR = "MESSAGING_ERROR"
    MESSAGE_ROUTING_FAILED = "MESSAGE_ROUTING_FAILED"
    MESSAGE_SERIALIZATION_FAILED = "MESSAGE_SERIALIZATION_FAILED"
    MESSAGE_DESERIALIZATION_FAILED = "MESSAGE_DESERIALIZATION_FAILED"
    INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
    UNSUPPORTED_CONTENT_TYPE = "UNSUPPORTED_CONTENT_TYPE"
    CONNECTOR_NOT_FOUND = "CONNECTOR_NOT_FOUND"
    INVALID_WEBHOOK_DATA = "INVALID_WEBHOOK_DATA"
    INVALID_WEBHOOK_SIGNATURE = "INVALID_WEBHOOK_SIGNATURE"
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    INVALID_SENDER = "INVALID_SENDER"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    MISSING_CREDENTIALS = "MISSING_CREDENTIALS"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    MISSING_SENDER = "MISSING_SENDER"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    SEND_MESSAGE_FAILED = "SEND_MESSAGE_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    TIMEOUT = "TIMEOUT"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    RECIPIENT_OPTED_OUT = "RECIPIENT_OPTED_OUT"


class ConnectorErrorCodes(ErrorCode, domain="connector"):
    """Codes for the connector's lifecycle (domain ``connector``)."""

    ALREADY_INITIALIZED = "ALREADY_INITIALIZED"
    INITIALIZATION_ERROR = "INITIALIZATION_ERROR"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    MESSAGE_VALIDATION_FAILED = "MESSAGE_VALIDATION_FAILED"
    SEND_BATCH_ERROR = "SEND_BATCH_ERROR"
    GET_STATUS_ERROR = "GET_STATUS_ERROR"
    RECEIVE_STATUS_ERROR = "RECEIVE_STATUS_ERROR"
    RECEIVE_MESSAGES_ERROR = "RECEIVE_MESSAGES_ERROR"
    CAPABILITY_NOT_SUPPORTED = "CAPABILITY_NOT_SUPPORTED"
    CONNECTOR_SHUT_DOWN = "CONNECTOR_SHUT_DOWN"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"


@frozen
class ValidationIssue:
    """One problem found while validating settings or a message.

    ``field`` names what the problem concerns (``"AccountSid"``, ``"receiver"``,
    ``"properties.ValidityPeriod"``); ``message`` is a plain sentence.
    """

    field: str
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _issues(value: Any) -> tuple[ValidationIssue, ...]:
    return tuple(value)


def _domain_of(info: ErrorInfo) -> str:
    code = info.code
    return code.DOMAIN if isinstance(code, ErrorCode) else MessagingErrorCodes.DOMAIN


@frozen
class ErrorInfo:
    """What went wrong: a framework code, its domain, a message and the provider's own details.

    The domain follows from the code: ``ErrorInfo(MessagingErrorCodes.TIMEOUT, "slow")`` is in
    the ``messaging`` domain, a Twilio code in ``Twilio``; a ``domain`` that contradicts the
    code's raises ValueError. A plain-text code (as read back from JSON) takes the ``domain``
    given (default ``messaging``) and becomes that domain's :class:`ErrorCode` when it names one.

    ``retryable`` says the same request may succeed if sent again (``retry_after`` seconds later
    when known). ``outcome_unknown`` says a request may have reached the provider although no
    answer came back: it is never retried automatically, so nothing is sent twice.
    """

    code: str
    message: str
    domain: str = field(default=Factory(_domain_of, takes_self=True))
    provider_code: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    outcome_unknown: bool = False
    issues: tuple[ValidationIssue, ...] = field(default=(), converter=_issues)
    details: dict[str, Any] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        code, domain = self.code, self.domain
        if isinstance(code, ErrorCode):
            if domain != code.DOMAIN:
                raise ValueError(f"the code {code} is in the {code.DOMAIN!r} domain, "
                                 f"not {domain!r}")
        elif isinstance(code, str):
            member = ErrorCode.of(domain, code)
            if member is not None:
                object.__setattr__(self, "code", member)

    def __str__(self) -> str:
        text = f"[{self.domain}:{self.code}] {self.message}"
        if self.provider_code:
            text += f" (provider code {self.provider_code})"
        for issue in self.issues:
            text += f"\n  - {issue}"
        return text


class MessagingError(Exception):
    """Raised by ``Result.unwrap()`` (and by nothing else) when a result holds an error."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(str(error))
        self.error = error

    @property
    def code(self) -> str:
        return self.error.code
