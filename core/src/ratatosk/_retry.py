"""Retry policy: which errors are retried, how often, and how long to wait in between.

The connector base retries a failed attempt only when the error says it is safe and useful:
``retryable`` is true and ``outcome_unknown`` is false (a request that may have reached the
provider is never sent again, so no message goes out twice). Waits grow exponentially with *full
jitter* (a uniformly random delay between zero and the exponential bound), unless the provider
said how long to wait (``retry_after``, e.g. from a ``Retry-After`` header), which is honoured but
capped at ``max_delay``.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import field, frozen, validators

from ._errors import ErrorInfo


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
    ``random() * min(max_delay, base_delay * 2 ** (n - 1))``, or ``min(retry_after, max_delay)``
    when the error carries ``retry_after``.
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
        """The wait before retry number ``retry`` after ``error`` (honours ``retry_after``)."""
        if error.retry_after is not None:
            return min(max(float(error.retry_after), 0.0), self.max_delay)
        return self.backoff(retry, random)
