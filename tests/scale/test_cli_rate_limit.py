"""``ratatosk send --rate-limit``: two CLI processes sending for the same account and sender share
one limit in the real Redis, and stay within 5% of it at the provider (the Twilio sandbox)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from ratatosk_twilio.sandbox import TwilioSandbox

pytestmark = [pytest.mark.slow, pytest.mark.redis]

REDIS = os.environ.get("RATATOSK_TEST_REDIS", "redis://127.0.0.1:6379/0")


def command(box: TwilioSandbox, path: Path, *extra: str) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, TWILIO_ACCOUNT_SID=box.account_sid, TWILIO_AUTH_TOKEN=box.auth_token,
               RATATOSK_CONNECTOR="twilio/sms", NO_COLOR="1", RATATOSK_RATE_LIMIT_STORE=REDIS)
    env.pop("RATATOSK_DSN", None)
    return [sys.executable, "-m", "ratatosk.cli", "send", "--file", str(path),
            "--from", "+15005550006", "--set", f"BaseUrl={box.base_url}", "--no-progress",
            "--report", str(path.with_suffix(".jsonl")), *extra], env


def test_two_cli_processes_share_one_rate_limit_within_five_percent(tmp_path: Path) -> None:
    with TwilioSandbox() as box:
        procs = []
        for part in ("a", "b"):
            path = tmp_path / f"{part}.csv"
            path.write_text("to,text\n" + "".join(
                f"+1555040{i:04d},hello {part}{i}\n" for i in range(30)), encoding="utf-8")
            # in flight, each process can take the whole window's budget (20): the limit, not
            # the senders' concurrency, sets the pace (a batch's slow start opens only as
            # answers come, and they come one window apart once the budget is spent)
            args, env = command(box, path, "--rate-limit", "20 per 2 seconds",
                                "--concurrency", "32")
            procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        created = sorted(m.date_created.timestamp() for m in box.messages)
        account = box.account_sid
    assert len(created) == 60
    # 20 at once, then more as each leaves the two-second window: 60 take 4 s plus that window
    # (a window of two absorbs a process that stalls for a moment, as on a loaded CI machine)
    rate = len(created) / (created[-1] - created[0] + 2.0)
    assert abs(rate / 10 - 1) <= 0.05, rate
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"*{account}*"))
    assert keys, "the limit was kept in Redis under the account's key"
    client.delete(*keys)
    client.close()


@pytest.mark.parametrize(("extra", "expected"), [
    (("--rate-limit", "nonsense"), "--rate-limit 'nonsense'"),
    (("--rate-limit-store", REDIS), "--rate-limit-store goes with --rate-limit"),
])
def test_a_bad_rate_limit_option_is_a_usage_error(
        tmp_path: Path, extra: tuple[str, ...], expected: str) -> None:
    with TwilioSandbox() as box:
        (tmp_path / "in.csv").write_text("to,text\n+15550400000,hi\n", encoding="utf-8")
        args, env = command(box, tmp_path / "in.csv", *extra)
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert not box.messages
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_store_fails_before_any_request(tmp_path: Path) -> None:
    with TwilioSandbox() as box:
        (tmp_path / "in.csv").write_text(
            "to,text\n" + "".join(f"+1555041{i:04d},hi\n" for i in range(5)), encoding="utf-8")
        args, env = command(box, tmp_path / "in.csv", "--rate-limit", "5/second",
                            "--rate-limit-store", "redis://127.0.0.1:1/0")
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert not box.messages  # nothing is sent unmetered
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


def test_the_limit_is_keyed_by_the_provider_and_the_principal_of_the_credentials() -> None:
    import ratatosk

    sid = "AC" + "1" * 32
    assert ratatosk.connect(f"twilio://{sid}:tok@default").rate_limit_account == f"twilio:{sid}"
    vonage = ratatosk.connect("vonage://k3y:s3cret@default")
    assert vonage.rate_limit_account == "vonage:k3y"
    assert "s3cret" not in vonage.rate_limit_account  # never the secret
    # without credentials, the provider alone
    assert ratatosk.connect("twilio://default").rate_limit_account == "twilio"
