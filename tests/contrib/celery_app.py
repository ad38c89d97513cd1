"""The Celery app the worker subprocesses of tests/contrib/test_celery_workers.py load
(``celery -A celery_app worker``). Everything comes from the environment the test sets."""

from __future__ import annotations

import os

from celery import Celery

from ratatosk_contrib.celery import install

app = Celery("rtk_celery_test", broker=os.environ["RTK_BROKER"],
             backend=os.environ["RTK_BACKEND"])
app.conf.update(
    task_default_queue=os.environ["RTK_QUEUE"],
    broker_transport_options={"visibility_timeout": 3,
                              "global_keyprefix": os.environ["RTK_QUEUE"] + ":"},
    result_backend_transport_options={"global_keyprefix": os.environ["RTK_QUEUE"] + ":"},
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
)
messaging = install(app, ledger=os.environ["RTK_LEDGER"],
                    claim_timeout=float(os.environ.get("RTK_CLAIM_TIMEOUT", "300")))
