"""`ratatosk send`, `status` and `demo`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratatosk_twilio.sandbox import TwilioSandbox

RATATOSK = shutil.which("ratatosk", path=str(Path(sys.executable).parent)) or "ratatosk"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox(progression="immediate") as sb:
        yield sb


def _dsn(sb: TwilioSandbox) -> str:
    return f"twilio://{sb.account_sid}:{sb.auth_token}@{sb.base_url.split('://', 1)[1]}"


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "RATATOSK_"))}
    return subprocess.run(
        [RATATOSK, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        cwd=cwd,
    )


def test_send_one_message_with_a_dsn(sandbox: TwilioSandbox) -> None:
    run = _run(
        "send",
        "--to",
        "+15550002222",
        "--from",
        "+15005550006",
        "--text",
        "Hello CLI",
        "--dsn",
        _dsn(sandbox),
        "--json",
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["ok"] is True and payload["sid"].startswith("SM")
    assert sandbox.get_message(payload["sid"]).body == "Hello CLI"
    assert sandbox.auth_token not in run.stdout + run.stderr


def test_send_with_twilios_environment_variables_and_media(sandbox: TwilioSandbox) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": sandbox.auth_token,
        "TWILIO_BASE_URL": sandbox.base_url,
    }
    run = _run(
        "send",
        "--to",
        "+15550003333",
        "--from",
        "+15005550006",
        "--text",
        "Look",
        "--media",
        "https://example.com/a.jpg",
        "--media",
        "https://example.com/b.png",
        env=env,
    )
    assert run.returncode == 0, run.stderr
    sid = run.stdout.split(": ", 1)[1].split()[0]
    stored = sandbox.get_message(sid)
    assert stored is not None and stored.num_media == 2


def test_send_reports_a_provider_error_as_one_line(sandbox: TwilioSandbox) -> None:
    # +15005550001 is Twilio's magic "invalid To" number: error 21211
    run = _run(
        "send",
        "--to",
        "+15005550001",
        "--from",
        "+15005550006",
        "--text",
        "x",
        "--dsn",
        _dsn(sandbox),
    )
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "INVALID_RECIPIENT" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (("send", "--text", "no recipient"), "--to"),
        (("send", "--to", "+15550002222", "--dsn", "twilio//missing-scheme"), "error"),
        (("send", "--to", "+15550002222", "--dsn", "nosuch://a:b@default"), "nosuch"),
        (("send", "--to", "+1", "--concurrency", "zero"), "invalid int"),
        (("status",), "sid"),
    ],
)
def test_bad_arguments_give_one_line_and_a_nonzero_exit(args: tuple[str, ...], needle: str) -> None:
    run = _run(*args)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert needle in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.strip()]) <= 3


def test_status_of_a_sent_message(sandbox: TwilioSandbox) -> None:
    sent = json.loads(
        _run(
            "send",
            "--to",
            "+15550004444",
            "--from",
            "+15005550006",
            "--text",
            "s",
            "--dsn",
            _dsn(sandbox),
            "--json",
        ).stdout
    )
    run = _run("status", sent["sid"], "--dsn", _dsn(sandbox))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{sent['sid']}: DELIVERED (delivered)")
    assert "segments: 1" in run.stdout
    as_json = json.loads(_run("status", sent["sid"], "--dsn", _dsn(sandbox), "--json").stdout)
    assert as_json["status"] == "delivered"


def test_status_of_an_unknown_message(sandbox: TwilioSandbox) -> None:
    run = _run("status", "SM" + "0" * 32, "--dsn", _dsn(sandbox))
    assert run.returncode == 1 and run.stderr.startswith("error:")


def test_send_a_csv_of_1000_recipients(sandbox: TwilioSandbox, tmp_path: Path) -> None:
    path = tmp_path / "recipients.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["to", "text", "id"])
        for i in range(1000):
            to = f"+1555{i:07d}"
            if i == 10:
                to = "+15005550001"  # magic number: rejected by "Twilio" with 21211
            if i == 20:
                to = ""  # no recipient: rejected locally
            writer.writerow([to, f"Hello #{i}", f"row-{i}"])
    before = len(sandbox.messages)
    run = _run(
        "send",
        "--file",
        str(path),
        "--from",
        "+15005550006",
        "--dsn",
        _dsn(sandbox),
        "--concurrency",
        "32",
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr  # two rows failed
    report = tmp_path / "recipients.report.jsonl"
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 1000
    assert sorted(line["index"] for line in lines) == list(range(1000))
    by_index = {line["index"]: line for line in lines}
    assert by_index[10]["ok"] is False and by_index[10]["error"]["provider_code"] == "21211"
    assert by_index[20]["ok"] is False and by_index[20]["error"]["code"] == "INVALID_MESSAGE"
    ok = [line for line in lines if line["ok"]]
    assert len(ok) == 998 and all(line["sid"].startswith("SM") for line in ok)
    assert len(sandbox.messages) - before == 998
    assert "1000/1000" in run.stderr  # the progress bar's final state
    assert "sent" in run.stdout and "998" in run.stdout and "report:" in run.stdout


def test_send_a_jsonl_file(sandbox: TwilioSandbox, tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    rows = [
        {"to": "+15550005555", "text": "one"},
        {"to": "+15550006666", "text": "two", "media": ["https://example.com/x.jpg"]},
        "not an object",
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    report = tmp_path / "out.jsonl"
    run = _run(
        "send",
        "--file",
        str(path),
        "--from",
        "+15005550006",
        "--dsn",
        _dsn(sandbox),
        "--report",
        str(report),
        "--no-progress",
    )
    assert run.returncode == 1
    lines = sorted(
        (json.loads(x) for x in report.read_text().splitlines()), key=lambda x: x["index"]
    )
    assert [x["ok"] for x in lines] == [True, True, False, False]


def test_demo_runs_end_to_end() -> None:
    run = _run("demo", timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    for needle in (
        "text SMS",
        "MMS, 2 images",
        "WhatsApp template",
        "scheduled SMS",
        "delivered -> DELIVERED",
        "inbound",
        "canceled -> CANCELED",  # the cancel's own status callback arrived before shutdown
        "every step succeeded",
    ):
        assert needle in out, needle
    assert "FAILED" not in out
