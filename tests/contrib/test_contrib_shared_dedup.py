"""Replay-proof webhooks across processes: two uvicorn worker processes serve one Twilio endpoint
with a :class:`~ratatosk.RedisDeduplicationStore` on the real Redis. A signed webhook retried (or
replayed by an attacker with another idempotency token, or none) at the other worker, or sent to
both at once, runs the handler once and is answered once with the reply."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import redis

from ratatosk import RedisDeduplicationStore
from ratatosk_twilio.signature import compute_signature

pytestmark = [pytest.mark.redis, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REDIS = os.environ.get("RATATOSK_TEST_REDIS", "redis://127.0.0.1:6379/0")
TOKEN = "f" * 32
PUBLIC = "https://app.example.com/twilio"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"rtk-dedup-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def workers(prefix: str) -> Iterator[list[str]]:
    env = dict(os.environ, RTK_REDIS=REDIS, RTK_PREFIX=prefix, RTK_TOKEN=TOKEN)
    ports = [_free_port(), _free_port()]
    procs = [subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "shared_dedup_app:app", "--app-dir", str(HERE),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 30
        for url, proc in zip(urls, procs, strict=True):
            while True:
                try:
                    httpx.get(url + "/", timeout=1)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the worker did not start: {proc.stderr.read()!r}"  # type: ignore[union-attr]
                                           ) from None
                    time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _post(url: str, fields: dict[str, str], token: str | None) -> httpx.Response:
    headers = {"X-Twilio-Signature": compute_signature(TOKEN, PUBLIC, fields),
               "Content-Type": "application/x-www-form-urlencoded"}
    if token is not None:
        headers["I-Twilio-Idempotency-Token"] = token
    return httpx.post(url + "/twilio", content=urlencode(fields), headers=headers, timeout=10)


def _inbound(sid: str) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC" + "1" * 32, "From": "+14155550100",
            "To": "+15005550006", "Body": "hello", "NumMedia": "0"}


def _handled(prefix: str) -> list[str]:
    client = redis.Redis.from_url(REDIS)
    try:
        return [item.decode() for item in client.lrange(f"{prefix}:handled", 0, -1)]
    finally:
        client.close()


def test_a_retry_at_the_other_worker_is_handled_and_answered_once(
        workers: list[str], prefix: str) -> None:
    fields = _inbound("SM" + "a" * 32)
    first = _post(workers[0], fields, "token-1")
    assert first.status_code == 200 and b"thanks" in first.content
    # Twilio's retry, and an attacker's replays with another token or none, at the other worker
    for token in ("token-1", "token-2", None):
        again = _post(workers[1], fields, token)
        assert again.status_code == 200 and b"thanks" not in again.content
    handled = _handled(prefix)
    assert len(handled) == 1 and handled[0].split(" ")[1] == "message"


def test_copies_arriving_at_both_workers_at_once_are_handled_once(
        workers: list[str], prefix: str) -> None:
    sids = ["SM" + f"{i:032x}" for i in range(10)]
    jobs = [(workers[i % 2], _inbound(sid), f"t-{i}") for sid in sids for i in range(4)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: _post(*job), jobs))
    assert all(answer.status_code == 200 for answer in answers)
    assert sum(b"thanks" in answer.content for answer in answers) == len(sids)
    assert len(_handled(prefix)) == len(sids)


def test_a_replayed_status_callback_is_handled_once(workers: list[str], prefix: str) -> None:
    fields = {"MessageSid": "SM" + "b" * 32, "AccountSid": "AC" + "1" * 32,
              "MessageStatus": "delivered", "To": "+14155550100", "From": "+15005550006"}
    answers = [_post(url, fields, token) for url, token in
               ((workers[0], "x"), (workers[1], "y"), (workers[1], None), (workers[0], "x"))]
    assert [a.status_code for a in answers] == [200] * 4
    assert [h.split(" ", 1)[1] for h in _handled(prefix)] == [f"status {fields['MessageSid']}"]


def test_the_redis_store_is_atomic_forgets_and_expires(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS)
    store = RedisDeduplicationStore(client, prefix=prefix, ttl_seconds=0.2)
    assert store.seen("k") is False and store.seen("k") is True
    store.forget("k")
    assert store.seen("k") is False
    time.sleep(0.3)
    assert store.seen("k") is False
    with pytest.raises(ValueError):
        RedisDeduplicationStore(client, ttl_seconds=0)
    with pytest.raises(TypeError):
        store.seen(1)  # type: ignore[arg-type]
    client.close()
