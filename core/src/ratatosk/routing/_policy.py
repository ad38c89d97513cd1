"""Which failures move a routed send to the next provider, and each member's circuit state.

Plain data and logic, no I/O: :func:`is_provider_failure` classifies an :class:`~ratatosk.ErrorInfo`
and :class:`MemberHealth` is one member's closed / open / half-open state with an injectable clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from attrs import define, field

from .._errors import ConnectorErrorCodes, ErrorInfo, MessagingErrorCodes

__all__ = ["PROVIDER_FAILURE_CODES", "MemberHealth", "is_provider_failure"]

_M = MessagingErrorCodes

PROVIDER_FAILURE_CODES: frozenset[str] = frozenset({
    _M.CONNECTION_FAILED,  # the provider could not be reached (request not sent, or a safe retry)
    _M.TIMEOUT,  # only when the request was not sent (see is_provider_failure)
    _M.INVALID_CREDENTIALS,
    _M.MISSING_CREDENTIALS,
    ConnectorErrorCodes.AUTHENTICATION_FAILED,
    _M.INSUFFICIENT_FUNDS,
    _M.ACCOUNT_SUSPENDED,
    _M.RATE_LIMITED,
})
"""Codes that concern the provider (its reachability, the account, its throughput), never one
recipient or one message."""


def is_provider_failure(error: ErrorInfo | None) -> bool:
    """Whether ``error`` concerns the provider, so that another provider may send the message.

    True for an unreachable provider, bad or missing credentials, an account without funds or
    suspended, throttling the member could not wait out with its own retries (``RATE_LIMITED``
    after ``MaxRetries``), and a 5xx answer given before the provider took the message (503,
    :data:`~ratatosk.provider.NOT_TAKEN_STATUSES`; any 5xx whose outcome is not unknown).

    False for everything that concerns the recipient or the message (``INVALID_RECIPIENT``,
    ``RECIPIENT_OPTED_OUT``, ``INVALID_MESSAGE``, ...) and for any outcome that may have been
    sent (``outcome_unknown``: a timeout after the request left, a 500 answer to a send): sending
    it again elsewhere could deliver the message twice.
    """
    if error is None or error.outcome_unknown:
        return False
    if error.code in PROVIDER_FAILURE_CODES:
        return True
    status = error.details.get("http_status")
    # a 5xx the provider answered before taking the message (503; see NOT_TAKEN_STATUSES)
    return isinstance(status, int) and status >= 500


@define
class MemberHealth:
    """One member's circuit: closed (used), open (skipped until ``cooldown`` has passed), then
    half-open: one trial send; its success closes the circuit, its failure opens it again."""

    cooldown: float
    clock: Callable[[], float]
    open_until: float | None = None
    trial: bool = False
    failures: int = 0
    last_error: str | None = None
    _lock: threading.Lock = field(factory=threading.Lock, repr=False)

    def acquire(self) -> bool:
        """May a send use this member now? (Takes the half-open trial when it is due.)"""
        with self._lock:
            if self.open_until is None:
                return True
            if self.trial or self.clock() < self.open_until:
                return False
            self.trial = True
            return True

    def succeeded(self) -> None:
        """The member answered (the message was taken, or refused for its own reasons)."""
        with self._lock:
            self.open_until, self.trial, self.failures, self.last_error = None, False, 0, None

    def failed(self, error: ErrorInfo) -> None:
        """A provider-level failure: skip this member for ``cooldown`` (or ``retry_after``)."""
        with self._lock:
            wait = max(self.cooldown, error.retry_after or 0.0)
            self.open_until = self.clock() + wait
            self.trial = False
            self.failures += 1
            self.last_error = str(error.code)

    def release(self) -> None:
        """A trial that ended with neither verdict (an exception): let the next send try."""
        with self._lock:
            self.trial = False

    def wait(self) -> float:
        """Seconds until this member may be tried again (0 when it may be tried now)."""
        with self._lock:
            if self.open_until is None:
                return 0.0
            return max(0.0, self.open_until - self.clock())

    @property
    def is_open(self) -> bool:
        """Whether the member is being skipped (cooling down or on trial)."""
        return self.open_until is not None
