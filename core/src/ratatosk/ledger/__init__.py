"""The delivery ledger: a durable record of every message a campaign or worker handles.

Write-ahead: record the intent (``record_intent``), claim it (``claim``, atomic across
processes and machines), send, then record the outcome (``record_outcome``); status updates are
appended (``record_status``). A rerun asks ``do_not_resend(campaign)`` for the rows it must
skip. Two stores implement the :class:`Ledger` protocol:

* :class:`SqliteLedger` — one SQLite file (standard library), the embedded default;
* :class:`PostgresLedger` — PostgreSQL through psycopg 3
  (``pip install 'ratatosk-messaging[postgres]'``), for workers on several machines.
"""

from __future__ import annotations

from ._model import (
    CampaignSummary,
    DeliveryState,
    Ledger,
    LedgerEntry,
    LedgerError,
    LedgerStatusUpdate,
    idempotency_key,
)
from ._postgres import PostgresLedger
from ._sql import SCHEMA_VERSION
from ._sqlite import SqliteLedger

__all__ = [
    "SCHEMA_VERSION",
    "CampaignSummary",
    "DeliveryState",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerStatusUpdate",
    "PostgresLedger",
    "SqliteLedger",
    "idempotency_key",
]
