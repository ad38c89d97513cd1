"""The Celery app bench/bench_workers.py's worker processes load (``celery -A _celery_app
worker``): ratatosk_contrib.celery's task, the ledger in PostgreSQL, everything from the
environment the benchmark sets."""

from __future__ import annotations

import os

from celery import Celery

from ratatosk_contrib.celery import install

app = Celery("rtk_bench", broker=os.environ["RTK_BROKER"])
app.conf.update(
    task_default_queue=os.environ["RTK_QUEUE"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    task_ignore_result=True,
)
messaging = install(app, ledger=os.environ["RTK_LEDGER"],
                    claim_timeout=float(os.environ.get("RTK_CLAIM_TIMEOUT", "5")))
