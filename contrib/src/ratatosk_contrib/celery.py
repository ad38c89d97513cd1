"""Celery tasks: send a message through a named connector, safe under at-least-once delivery.

``pip install 'ratatosk-messaging-contrib[celery]'``. :func:`install` registers the task
``ratatosk.send_message`` on your Celery app::

    from celery import Celery
    from ratatosk_contrib.celery import install

    app = Celery("sms", broker="redis://127.0.0.1:6379/0")
    messaging = install(app, connectors={"alerts": "vendor://KEY@default"},
                        ledger="postgresql://ratatosk@db/messaging")

    messaging.send(  # enqueue one message (serialized to JSON)
        "alerts", message, campaign="welcome", row_key="user-42")
    messaging.enqueue_campaign("alerts", messages, campaign="spring")  # the fan-out

The task runs with ``acks_late=True`` (a worker that dies mid-task leaves the task to the broker,
which delivers it again) and is made idempotent by the delivery ledger: every send goes through
:func:`ratatosk.campaign.deliver_blocking` under the idempotency key of ``(campaign, row_key)``,
so a redelivered or repeated task returns the recorded outcome instead of sending again. A task
that finds the message claimed by another worker waits (``retry``) until that claim is older
than ``claim_timeout`` seconds, then records it as ``outcome_unknown`` (the dead worker may or
may not have sent it) and never sends it.

Secrets stay out of the task's arguments (and so out of the broker): a task names its connector,
and each worker resolves the name from ``connectors`` (a DSN, or a function returning a
:class:`ratatosk.Connector`) or from the environment variable ``RATATOSK_CONNECTOR_<NAME>`` (a
DSN; with no DSN password the provider's own environment variables apply).
The ledger is ``ledger`` (``sqlite:PATH`` or ``postgresql://...``, or a function returning a
:class:`~ratatosk.ledger.Ledger`), else ``$RATATOSK_LEDGER``. Use PostgreSQL when workers run on
several machines. Connectors and the ledger are opened once per worker process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from celery import Celery, Task

from ratatosk import ConnectionSettings, Connector, Message, connect, structure, unstructure
from ratatosk.campaign import CampaignRow, deliver_blocking
from ratatosk.ledger import DeliveryState, Ledger, PostgresLedger, SqliteLedger

__all__ = ["TASK_NAME", "CeleryMessaging", "install", "open_ledger"]

TASK_NAME = "ratatosk.send_message"
"""The name the send task is registered under."""

ConnectorSource = str | Callable[[], Connector]
LedgerSource = str | Callable[[], Ledger]


def open_ledger(spec: str) -> Ledger:
    """``sqlite:PATH`` (or a path) or ``postgresql://...`` (``?ledger_schema=NAME`` picks the
    schema, default ``ratatosk``)."""
    if spec.startswith(("postgresql://", "postgres://")):
        base, _, query = spec.partition("?")
        params = [p for p in query.split("&") if p]
        schema = next((p[14:] for p in params if p.startswith("ledger_schema=")), "ratatosk")
        kept = [p for p in params if not p.startswith("ledger_schema=")]
        return PostgresLedger(base + ("?" + "&".join(kept) if kept else ""), schema=schema)
    return SqliteLedger(spec[7:] if spec.startswith("sqlite:") else spec)


class CeleryMessaging:
    """What :func:`install` returns: the task and the helpers that enqueue it."""

    def __init__(
        self,
        app: Celery,
        connectors: Mapping[str, ConnectorSource],
        ledger: LedgerSource | None,
        claim_timeout: float,
    ) -> None:
        self.app = app
        self.claim_timeout = claim_timeout
        self._connectors = dict(connectors)
        self._ledger_source = ledger
        self._lock = threading.Lock()
        self._pid = -1
        self._open: dict[str, Connector] = {}
        self._ledger: Ledger | None = None
        self.task: Task = app.task(
            name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
            max_retries=None)(_send_task(self))

    # -- per worker process --------------------------------------------------------------
    def _fresh(self) -> None:
        if self._pid != os.getpid():  # a forked pool child opens its own
            self._pid = os.getpid()
            self._open = {}
            self._ledger = None

    def connector(self, name: str) -> Connector:
        """The connector ``name`` names, opened once per process."""
        with self._lock:
            self._fresh()
            found = self._open.get(name)
            if found is None:
                source = self._connectors.get(name)
                if source is None:
                    source = os.environ.get(f"RATATOSK_CONNECTOR_{name.upper()}")
                if source is None:
                    raise LookupError(
                        f"no connector named {name!r}: give it to install(connectors=...) or "
                        f"set RATATOSK_CONNECTOR_{name.upper()}")
                if isinstance(source, str):
                    found = connect(source, _env_settings(source))
                else:
                    found = source()
                self._open[name] = found
            return found

    def ledger(self) -> Ledger:
        """The ledger, opened once per process."""
        with self._lock:
            self._fresh()
            if self._ledger is None:
                source = self._ledger_source or os.environ.get("RATATOSK_LEDGER")
                if source is None:
                    raise LookupError("no ledger: give install(ledger=...) or set RATATOSK_LEDGER")
                self._ledger = open_ledger(source) if isinstance(source, str) else source()
            return self._ledger

    # -- enqueueing ------------------------------------------------------------------------
    def send(
        self,
        connector: str,
        message: Message,
        *,
        campaign: str,
        row_key: str | None = None,
        **options: Any,
    ) -> Any:
        """Enqueue one message (``options`` go to ``apply_async``: ``queue``, ``countdown``...)."""
        return self.task.apply_async(
            args=(connector, unstructure(message), campaign, row_key), **options)

    def enqueue_campaign(
        self,
        connector: str,
        rows: Iterable[Message | CampaignRow],
        *,
        campaign: str,
        **options: Any,
    ) -> list[Any]:
        """Enqueue every row of a campaign (the fan-out); returns the ``AsyncResult`` of each.

        Enqueueing the same campaign again is safe: rows already handled are not sent again.
        """
        results = []
        for row in rows:
            item = row if isinstance(row, CampaignRow) else CampaignRow(row)
            results.append(self.send(connector, item.message, campaign=campaign,
                                     row_key=item.key, **options))
        return results


def _env_settings(dsn: str) -> ConnectionSettings | None:
    provider = dsn.split("://", 1)[0].split("+", 1)[0]
    settings = ConnectionSettings.from_env(provider.upper() + "_")
    return settings or None


def _send_task(messaging: CeleryMessaging) -> Callable[..., dict[str, Any]]:
    def send_message(
        self: Task, connector: str, message: dict[str, Any], campaign: str,
        row_key: str | None = None,
    ) -> dict[str, Any]:
        """Send ``message`` (as ``ratatosk.unstructure`` made it) once, whatever the deliveries."""
        msg = structure(message, Message)
        ledger = messaging.ledger()
        done = deliver_blocking(messaging.connector(connector), msg, ledger=ledger,
                                campaign=campaign, row_key=row_key)
        entry = done.entry
        if done.state is DeliveryState.PENDING and not done.sent_now:
            # another worker holds the claim: wait for it, or give it up as outcome unknown
            claimed = entry.claimed_at.timestamp() if entry and entry.claimed_at else time.time()
            age = time.time() - claimed
            if age < messaging.claim_timeout:
                raise self.retry(countdown=min(messaging.claim_timeout - age, 30.0) + 0.5)
            ledger.expire_claims(messaging.claim_timeout, campaign=campaign)
            entry = ledger.get(done.idempotency_key)
        state = entry.state if entry is not None else done.state
        outcome: dict[str, Any] = {
            "idempotency_key": done.idempotency_key,
            "row_key": done.row_key,
            "state": state.value,
            "sent_now": done.sent_now,
            "provider_message_id": entry.provider_message_id if entry is not None else None,
        }
        if done.result is not None and done.result.error is not None:
            outcome["error"] = {"code": str(done.result.error.code),
                                "message": done.result.error.message,
                                "outcome_unknown": done.result.error.outcome_unknown}
        return outcome

    return send_message


def install(
    app: Celery,
    *,
    connectors: Mapping[str, ConnectorSource] | None = None,
    ledger: LedgerSource | None = None,
    claim_timeout: float = 300.0,
) -> CeleryMessaging:
    """Register ``ratatosk.send_message`` on ``app``; see the module documentation."""
    return CeleryMessaging(app, connectors or {}, ledger, claim_timeout)
