"""ratatosk_contrib.celery with real Celery workers (``celery worker`` subprocesses) on both
brokers, Redis and RabbitMQ, sending to the Twilio sandbox over loopback, the ledger in the real
PostgreSQL (a schema per test). A task delivered twice, or redelivered after its worker was
killed mid-send, sends once (the sandbox's own count)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ratatosk import MessageBuilder, unstructure
from ratatosk.ledger import DeliveryState, PostgresLedger, idempotency_key
from ratatosk_twilio.sandbox import TwilioSandbox

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
POSTGRES = os.environ.get("RATATOSK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BROKERS = {
    "redis": ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", "rpc://"),
}


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> tuple[str, str]:
    return BROKERS[request.param]


@pytest.fixture
def schema() -> Iterator[str]:
    import psycopg

    name = f"rtk_celery_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class Workers:
    """Starts ``celery worker`` subprocesses on one queue and makes the client app."""

    def __init__(self, broker: tuple[str, str], box: TwilioSandbox, schema: str) -> None:
        self.queue = f"rtk-{uuid.uuid4().hex[:12]}"
        self.env = dict(
            os.environ, RTK_BROKER=broker[0], RTK_BACKEND=broker[1], RTK_QUEUE=self.queue,
            RTK_LEDGER=f"{POSTGRES}?ledger_schema={schema}", RTK_CLAIM_TIMEOUT="2",
            RATATOSK_CONNECTOR_SMS=f"twilio://{box.account_sid}:{box.auth_token}@default"
                                   f"?BaseUrl={box.base_url}",
            PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
        self.procs: list[subprocess.Popen[bytes]] = []
        os.environ.update({k: self.env[k] for k in ("RTK_BROKER", "RTK_BACKEND", "RTK_QUEUE",
                                                    "RTK_LEDGER", "RTK_CLAIM_TIMEOUT")})
        sys.path.insert(0, str(HERE))
        import importlib

        import celery_app

        self.module = importlib.reload(celery_app)

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q", self.queue,
             "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-l", "warning", "-n", f"{self.queue}-{len(self.procs)}@%h"],
            env=self.env, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        app = self.module.app
        try:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(self.queue)
        except Exception:  # the queue is gone already
            pass
        if self.env["RTK_BROKER"].startswith("redis://"):
            import redis

            client = redis.Redis.from_url(self.env["RTK_BROKER"])
            keys = list(client.scan_iter(match=f"{self.queue}*"))
            if keys:
                client.delete(*keys)
            client.close()
        sys.path.remove(str(HERE))


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


def message(i: int) -> Any:
    return (MessageBuilder().with_id(f"m-{i}").from_phone("+15550001111")
            .to_phone(f"+1555020{i:04d}").with_text(f"hello {i}").build())


def test_fan_out_and_a_task_delivered_twice_send_once(
        broker: tuple[str, str], sandbox: TwilioSandbox, schema: str) -> None:
    workers = Workers(broker, sandbox, schema)
    try:
        workers.start()
        messaging = workers.module.messaging
        results = messaging.enqueue_campaign("sms", [message(i) for i in range(6)],
                                             campaign="fan", queue=workers.queue)
        outcomes = [r.get(timeout=90) for r in results]
        assert [o["state"] for o in outcomes] == ["sent"] * 6
        assert all(o["sent_now"] for o in outcomes)
        # the same task delivered twice (the same id, the same arguments): nothing sent again
        twice = [messaging.task.apply_async(
            args=("sms", unstructure(message(0)), "fan", "m-0"),
            task_id=results[0].id, queue=workers.queue) for _ in range(2)]
        again = [r.get(timeout=90) for r in twice]
        # (a result backend keyed by task id may hand back the first run's result: the
        # sandbox's count below is what proves nothing was sent again)
        assert all(o["state"] == "sent" for o in again)
        # a second fan-out of the same campaign sends nothing either
        rerun = messaging.enqueue_campaign("sms", [message(i) for i in range(6)],
                                           campaign="fan", queue=workers.queue)
        assert not any(r.get(timeout=90)["sent_now"] for r in rerun)
    finally:
        workers.close()
    counts = Counter(m.to for m in sandbox.messages)
    assert len(counts) == 6 and set(counts.values()) == {1}
    with PostgresLedger(POSTGRES, schema=schema) as ledger:
        assert ledger.summary("fan").count(DeliveryState.SENT) == 6


def test_a_task_redelivered_after_its_worker_died_mid_send_sends_once(
        broker: tuple[str, str], schema: str) -> None:
    with TwilioSandbox(latency=4.0) as box:  # the answer comes 4 s after the message exists
        workers = Workers(broker, box, schema)
        try:
            first = workers.start()
            result = workers.module.messaging.send("sms", message(1), campaign="crash",
                                                   row_key="r1", queue=workers.queue)
            deadline = time.monotonic() + 60
            while not box.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(box.messages) == 1  # the request reached the provider...
            first.send_signal(signal.SIGKILL)  # ...and the worker died before the answer
            first.wait(timeout=10)
            workers.start()  # the broker delivers the unacknowledged task again
            outcome = result.get(timeout=120)
        finally:
            workers.close()
        assert outcome["state"] == "outcome_unknown" and not outcome["sent_now"]
        assert len(box.messages) == 1  # never sent twice
        with PostgresLedger(POSTGRES, schema=schema) as ledger:
            entry = ledger.get(idempotency_key("crash", "r1"))
            assert entry is not None and entry.state is DeliveryState.OUTCOME_UNKNOWN
