"""Retry policy: which errors are retried, how often, and how long to wait in between.

The connector base retries a failed attempt only when the error says it is safe and useful:
``retryable`` is true and ``outcome_unknown`` is false (a request that may have reached the
provider is never sent again, so no message goes out twice). Waits grow exponentially with *full
jitter* (a uniformly random delay between zero and the exponential bound), unless the provider
said how long to wait (``retry_after``, e.g. from a ``Retry-After`` header): that wait is honoured
*plus a random extra* of up to ``max(base_delay, 10% of retry_after)``, so the many messages one
throttling response held back do not all retry at the same instant; any wait is capped at
``max_delay``.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import field, frozen, validators

from ._errors import ErrorInfo

_RETRY_AFTER_JITTER = 0.1
"""The random extra added to a ``retry_after`` wait, as a fraction of it (at least base_delay)."""


def _non_negative(instance: object, attribute: object, value: float) -> None:
    if not value >= 0:
        raise ValueError("retry settings must not be negative")


def _float(value: float) -> float:
    return float(value)


@frozen(slots=True)
class RetryPolicy:
    """How a connector retries retryable errors.

    ``max_retries`` is the number of *extra* attempts (``0`` = try once). ``base_delay`` and
    ``max_delay`` are in seconds; the wait before retry ``n`` (1-based) is
    ``random() * min(max_delay, base_delay * 2 ** (n - 1))``; when the error carries
    ``retry_after`` it is ``min(max_delay, retry_after + random() * max(base_delay,
    retry_after / 10))``: never less than ``retry_after`` unless that is above ``max_delay``.
    """

    max_retries: int = field(default=3, validator=[validators.instance_of(int), _non_negative])
    base_delay: float = field(default=0.5, converter=_float, validator=_non_negative)
    max_delay: float = field(default=30.0, converter=_float, validator=_non_negative)

    @property
    def max_attempts(self) -> int:
        """The total number of attempts, the first one included."""
        return self.max_retries + 1

    def should_retry(self, error: ErrorInfo, attempts: int) -> bool:
        """Whether to try again after ``attempts`` attempts ended with ``error``."""
        return error.retryable and not error.outcome_unknown and attempts <= self.max_retries

    def backoff(self, retry: int, random: Callable[[], float]) -> float:
        """The jittered exponential wait before retry number ``retry`` (1-based)."""
        bound = self.base_delay * (2.0 ** (retry - 1)) if retry < 64 else self.max_delay
        return random() * min(self.max_delay, bound)

    def delay(self, error: ErrorInfo, retry: int, random: Callable[[], float]) -> float:
        """The wait before retry number ``retry`` after ``error`` (``retry_after`` plus jitter)."""
        if error.retry_after is not None:
            return self.retry_after_delay(float(error.retry_after), random)
        return self.backoff(retry, random)

    def retry_after_delay(self, retry_after: float, random: Callable[[], float]) -> float:
        """The jittered wait for a provider's ``retry_after``: at least it, capped at max_delay."""
        asked = max(retry_after, 0.0) if retry_after == retry_after else 0.0  # NaN -> 0
        spread = max(self.base_delay, asked * _RETRY_AFTER_JITTER)
        return min(asked + random() * spread, self.max_delay)
