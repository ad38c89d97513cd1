"""The Celery app bench/bench_workers.py's worker processes load (``celery -A _celery_app
worker``): ratatosk_contrib.celery's task, the ledger in PostgreSQL, everything from the
environment the benchmark sets."""

from __future__ import annotations

import os

from celery import Celery

from ratatosk import Connector, connect
from ratatosk.ratelimit import SharedRateLimiter
from ratatosk_contrib.celery import install

app = Celery("rtk_bench", broker=os.environ["RTK_BROKER"])
app.conf.update(
    task_default_queue=os.environ["RTK_QUEUE"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    task_ignore_result=True,
)


def _sms() -> Connector:
    """The worker's connector; with RTK_LIMIT, every worker charges one shared Redis limit."""
    connector = connect(os.environ["RATATOSK_CONNECTOR_SMS"])
    limit = os.environ.get("RTK_LIMIT")
    if limit:
        connector.rate_limiter = SharedRateLimiter(
            os.environ["RTK_REDIS"], account=os.environ["RTK_QUEUE"], sender="+15005550006",
            limit=limit)
    return connector


messaging = install(app, connectors={"sms": _sms}, ledger=os.environ["RTK_LEDGER"],
                    claim_timeout=float(os.environ.get("RTK_CLAIM_TIMEOUT", "5")))
