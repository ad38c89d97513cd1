"""Plain bulk sends (``send_batch`` and ``ratatosk send --file`` without ``--campaign``) against
the Twilio sandbox over loopback: they stop at once on errors that concern every row, slow down
under throttling instead of failing rows, and account for every send that left when closed early.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratatosk import BatchSendResult, Message, MessageBuilder, connect
from ratatosk_twilio.sandbox import TwilioSandbox

pytestmark = pytest.mark.slow

ROWS = 40


def recipients(n: int = ROWS) -> list[str]:
    return [f"+1555020{i:04d}" for i in range(n)]


def run_cli(box: TwilioSandbox, tmp: Path, *extra: str, token: str | None = None,
            base_url: str | None = None) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    (tmp / "in.csv").write_text(
        "to,text\n" + "".join(f"{to},hello {i}\n" for i, to in enumerate(recipients())),
        encoding="utf-8")
    env = dict(os.environ, TWILIO_ACCOUNT_SID=box.account_sid,
               TWILIO_AUTH_TOKEN=token or box.auth_token, RATATOSK_CONNECTOR="twilio/sms",
               NO_COLOR="1")
    env.pop("RATATOSK_DSN", None)
    args = [sys.executable, "-m", "ratatosk.cli", "send", "--file", str(tmp / "in.csv"),
            "--from", "+15550001111", "--set", f"BaseUrl={base_url or box.base_url}",
            "--concurrency", "8", "--no-progress", "--report", str(tmp / "r.jsonl"), *extra]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    lines = [json.loads(line) for line in (tmp / "r.jsonl").read_text().splitlines()]
    return done, lines


def free_port() -> int:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("problem", ["bad token", "unreachable"])
def test_a_plain_file_send_stops_at_once_on_an_error_that_concerns_every_row(
        tmp_path: Path, problem: str) -> None:
    with TwilioSandbox() as box:
        if problem == "bad token":
            done, lines = run_cli(box, tmp_path, token="0" * 32)
        else:
            done, lines = run_cli(box, tmp_path, base_url=f"http://127.0.0.1:{free_port()}")
        assert not box.messages
    assert done.returncode == 1
    assert "concerns every row" in done.stderr and "Traceback" not in done.stderr
    assert "0" * 32 not in done.stdout + done.stderr
    # every row has its line: the one that was tried, and the others not attempted
    assert sorted(line["row"] for line in lines) == list(range(1, ROWS + 1))
    codes = Counter(line["error"]["code"] for line in lines)
    cause = "INVALID_CREDENTIALS" if problem == "bad token" else "CONNECTION_FAILED"
    assert codes == {cause: 1, "NOT_ATTEMPTED": ROWS - 1}
    assert not any(line["outcome_unknown"] for line in lines)


@pytest.mark.parametrize("campaign", [False, True])
def test_a_file_send_slows_down_under_throttling_and_sends_every_row_once(
        tmp_path: Path, campaign: bool) -> None:
    # the sandbox takes two creates at a time and answers 429 (Retry-After: 1) beyond
    extra = ("--campaign", "c", "--ledger", f"sqlite:{tmp_path / 'l.db'}") if campaign else ()
    with TwilioSandbox(max_concurrency=2, latency=0.05) as box:
        done, lines = run_cli(box, tmp_path, *extra)
        sent = Counter(m.to for m in box.messages)
    assert done.returncode == 0, done.stderr
    assert all(line["ok"] for line in lines) and len(lines) == ROWS
    assert set(sent) == set(recipients()) and set(sent.values()) == {1}


def dsn_for(box: TwilioSandbox) -> str:
    return f"twilio://{box.account_sid}:{box.auth_token}@{box.base_url.removeprefix('http://')}"


def messages(n: int) -> Iterator[Message]:
    return (MessageBuilder().from_phone("+15550001111").to_phone(to).with_text("hi").build()
            for to in recipients(n))


def test_closing_send_batch_early_accounts_for_every_send_that_left() -> None:
    with TwilioSandbox(latency=0.3) as box:
        connector = connect(dsn_for(box))
        late: list[BatchSendResult] = []

        async def run() -> list[BatchSendResult]:
            seen = []
            batch = connector.send_batch(messages(ROWS), concurrency=8, after_close=late.append)
            async with contextlib.aclosing(batch):
                async for item in batch:
                    seen.append(item)
                    if len(seen) == 4:  # the window is open now: several sends are out
                        break
            await connector.shutdown()
            return seen

        import asyncio

        seen = asyncio.run(run())
        created = {m.sid for m in box.messages}
    assert late, "sends were in flight when the batch was closed"
    reported = seen + late
    assert len({r.index for r in reported}) == len(reported)
    assert all(r.is_success for r in reported)
    # what the sandbox created is exactly what was yielded or handed to after_close
    assert {r.result.unwrap().remote_message_id for r in reported} == created


def test_closing_a_blocking_send_batch_early_accounts_for_every_send_that_left() -> None:
    with TwilioSandbox(latency=0.3) as box:
        connector = connect(dsn_for(box)).blocking()
        late: list[BatchSendResult] = []
        batch = connector.send_batch(messages(ROWS), concurrency=8, after_close=late.append)
        seen = [next(batch) for _ in range(4)]
        batch.close()
        connector.shutdown()
        created = {m.sid for m in box.messages}
    assert late
    reported = seen + late
    assert all(r.is_success for r in reported)
    assert {r.result.unwrap().remote_message_id for r in reported} == created
