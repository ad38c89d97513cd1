"""Error codes, error details and the exception raised by ``Result.unwrap()``."""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import field, frozen


class _CodeSet:
    """A namespace of error codes; each code's value is its own name."""

    DOMAIN: ClassVar[str] = ""

    @classmethod
    def all_codes(cls) -> tuple[str, ...]:
        """Every code the set defines, in definition order."""
        return tuple(
            value
            for name, value in vars(cls).items()
            if name.isupper() and name != "DOMAIN" and isinstance(value, str)
        )


class MessagingErrorCodes(_CodeSet):
    """Provider-neutral codes for errors while messaging (domain ``messaging``)."""

    DOMAIN = "messaging"
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


class ConnectorErrorCodes(_CodeSet):
    """Codes for the connector's lifecycle (domain ``connector``)."""

    DOMAIN = "connector"
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


@frozen
class ErrorInfo:
    """What went wrong: a framework code, its domain, a message and the provider's own details.

    ``retryable`` says the same request may succeed if sent again (``retry_after`` seconds later
    when known). ``outcome_unknown`` says a request may have reached the provider although no
    answer came back: it is never retried automatically, so nothing is sent twice.
    """

    code: str
    message: str
    domain: str = MessagingErrorCodes.DOMAIN
    provider_code: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    outcome_unknown: bool = False
    issues: tuple[ValidationIssue, ...] = field(default=(), converter=_issues)
    details: dict[str, Any] = field(factory=dict)

    def __str__(self) -> str:
        text = f"[{self.domain}:{self.code}] {self.message}"
        if self.provider_code:
            text += f" (provider code {self.provider_code})"
        for issue in self.issues:
            text += f"\n  - {issue}"
        return text


def messaging_error(code: str, message: str, **kwargs: Any) -> ErrorInfo:
    """An :class:`ErrorInfo` in the ``messaging`` domain."""
    return ErrorInfo(code=code, message=message, domain=MessagingErrorCodes.DOMAIN, **kwargs)


def connector_error(code: str, message: str, **kwargs: Any) -> ErrorInfo:
    """An :class:`ErrorInfo` in the ``connector`` domain."""
    return ErrorInfo(code=code, message=message, domain=ConnectorErrorCodes.DOMAIN, **kwargs)


class MessagingError(Exception):
    """Raised by ``Result.unwrap()`` (and by nothing else) when a result holds an error."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(str(error))
        self.error = error

    @property
    def code(self) -> str:
        return self.error.code
