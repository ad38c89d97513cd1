"""Routing connectors: failover and round-robin over connectors of any providers.

* :class:`FailoverConnector` — members in order; the next takes over only for a provider-level
  failure (:func:`is_provider_failure`).
* :class:`RoundRobinConnector` — each send starts at the next member; fails over the same way.
* A member that failed is skipped for ``cooldown`` seconds, then tried once (half-open) and
  rejoins when that send succeeds (:class:`MemberHealth`).
* From a DSN: ``ratatosk.connect("failover(twilio://... vonage://...)")`` (docs/routing.md).
"""

from __future__ import annotations

from ._policy import PROVIDER_FAILURE_CODES, MemberHealth, is_provider_failure
from ._router import FailoverConnector, RoundRobinConnector, RoutingConnector, routed_schema

__all__ = [
    "PROVIDER_FAILURE_CODES",
    "FailoverConnector",
    "MemberHealth",
    "RoundRobinConnector",
    "RoutingConnector",
    "is_provider_failure",
    "routed_schema",
]
