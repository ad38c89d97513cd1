"""Sending at scale: ledger-backed sends and resumable campaigns.

* :func:`deliver` / :func:`deliver_blocking` (the generator :func:`delivery` run by the async or
  the blocking driver): one send recorded in a :class:`~ratatosk.ledger.Ledger` — intent first,
  then claim, send, outcome. A repeated call with the same idempotency key never sends twice.
* :func:`run_campaign`: many of them, ``concurrency`` at a time, resumable (a rerun skips what
  the ledger shows as sent or outcome unknown) and stoppable (:class:`CampaignControl`).
* :func:`reconcile_unknown`: before re-sending outcome-unknown messages, ask the provider.
"""

from __future__ import annotations

from ..connector import EVERY_ROW_CODES, concerns_every_row
from ._deliver import (
    IDEMPOTENCY_HEADER_ATTRIBUTE,
    Delivery,
    default_worker,
    deliver,
    deliver_blocking,
    delivery,
)
from ._run import (
    CampaignControl,
    CampaignResult,
    CampaignRow,
    reconcile_unknown,
    run_campaign,
)

__all__ = [
    "EVERY_ROW_CODES",
    "IDEMPOTENCY_HEADER_ATTRIBUTE",
    "CampaignControl",
    "CampaignResult",
    "CampaignRow",
    "Delivery",
    "concerns_every_row",
    "default_worker",
    "deliver",
    "deliver_blocking",
    "delivery",
    "reconcile_unknown",
    "run_campaign",
]
