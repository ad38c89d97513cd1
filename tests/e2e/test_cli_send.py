"""`ratatosk send`, `status` and `demo`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    assert payload["ok"] is True and payload["remote_message_id"].startswith("SM")
    assert sandbox.get_message(payload["remote_message_id"]).body == "Hello CLI"
    assert sandbox.auth_token not in run.stdout + run.stderr


def test_send_with_twilios_environment_variables_and_media(sandbox: TwilioSandbox) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": sandbox.account_sid,
        "TWILIO_AUTH_TOKEN": sandbox.auth_token,
        "TWILIO_BASE_URL": sandbox.base_url,
        # with more than one provider installed (Twilio and Vonage) the CLI needs the choice
        "RATATOSK_CONNECTOR": "twilio/sms",
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
        (("status",), "MESSAGE_ID"),
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
    run = _run("status", sent["remote_message_id"], "--dsn", _dsn(sandbox))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{sent['remote_message_id']}: DELIVERED (delivered)")
    assert "segments: 1" in run.stdout
    as_json = json.loads(
        _run("status", sent["remote_message_id"], "--dsn", _dsn(sandbox), "--json").stdout)
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
    assert len(ok) == 998 and all(line["remote_message_id"].startswith("SM") for line in ok)
    assert len(sandbox.messages) - before == 998
    assert "sent 1000" in run.stderr  # the plain progress's final line (stderr is a pipe)
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


# -- issue 13 / issue 9: exit codes, problems listed, files, --connector with a DSN -----------


def test_a_validation_failure_lists_every_problem_in_text_and_json(
    sandbox: TwilioSandbox,
) -> None:
    # an empty text and an impossible number: both are reported, each with its field
    args = ("send", "--to", "+1234", "--from", "+15005550006", "--text", "", "--dsn",
            _dsn(sandbox))
    text = _run(*args)
    assert text.returncode == 1
    first, *problems = text.stderr.splitlines()
    assert first.startswith("error: ") and "2 problems found" in first
    assert "MESSAGE_VALIDATION_FAILED" in first
    assert sorted(line.split(":")[0].strip() for line in problems) == ["content", "receiver"]
    assert any("'+1234'" in line for line in problems)
    as_json = _run(*args, "--json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert {(i["field"], i["code"]) for i in error["issues"]} == {
        ("content", "required"), ("receiver", "format")}
    assert all(i["message"] for i in error["issues"])
    assert sandbox.auth_token not in text.stderr + as_json.stdout


def test_the_file_report_lists_the_problems_too(sandbox: TwilioSandbox, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"to": "+1234", "text": "x"}) + "\n" + json.dumps({"text": "y"})
                    + "\n")
    run = _run("send", "--file", str(path), "--from", "+15005550006", "--dsn", _dsn(sandbox),
               "--no-progress", cwd=tmp_path)
    assert run.returncode == 1
    report = (tmp_path / "bad.report.jsonl").read_text().splitlines()
    first, second = sorted((json.loads(x) for x in report), key=lambda x: x["index"])
    assert [(i["field"], i["code"]) for i in first["error"]["issues"]] == [("receiver", "format")]
    assert second["error"]["code"] == "INVALID_MESSAGE" and second["error"]["issues"] == []


def test_connector_with_a_dsn_is_used_not_ignored(sandbox: TwilioSandbox) -> None:
    run = _run("send", "--to", "+15550002222", "--from", "+15005550006", "--text", "wa",
               "--dsn", _dsn(sandbox), "--connector", "twilio/whatsapp", "--json")
    assert run.returncode == 0, run.stderr
    stored = sandbox.get_message(json.loads(run.stdout)["remote_message_id"])
    assert stored is not None
    assert (stored.to, stored.from_) == ("whatsapp:+15550002222", "whatsapp:+15005550006")
    # RATATOSK_CONNECTOR counts as well
    env_run = _run("send", "--to", "+15550002222", "--from", "+15005550006", "--text", "wa",
                   "--dsn", _dsn(sandbox), "--json",
                   env={"RATATOSK_CONNECTOR": "twilio/whatsapp"})
    stored = sandbox.get_message(json.loads(env_run.stdout)["remote_message_id"])
    assert stored is not None and stored.to == "whatsapp:+15550002222"


@pytest.mark.parametrize(("connector", "dsn_scheme", "needle"), [
    ("acme/sms", "twilio", "names provider 'acme' but the DSN is for 'twilio'"),
    ("twilio/sms", "twilio+whatsapp", "contradicts the DSN's connector twilio/whatsapp"),
])
def test_a_connector_contradicting_the_dsn_is_refused(
    sandbox: TwilioSandbox, connector: str, dsn_scheme: str, needle: str
) -> None:
    dsn = _dsn(sandbox).replace("twilio://", f"{dsn_scheme}://", 1)
    run = _run("send", "--to", "+15550002222", "--from", "+15005550006", "--text", "x",
               "--dsn", dsn, "--connector", connector)
    assert run.returncode == 2
    [line] = run.stderr.splitlines()
    assert line.startswith("ratatosk send: error: ") and needle in line
    assert sandbox.auth_token not in run.stderr


def test_a_latin1_file_is_refused_naming_the_file_and_the_line(
    sandbox: TwilioSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("to,text\n+15550002222,ok\n+15550002223,café\n".encode("latin-1"))
    before = len(sandbox.messages)
    run = _run("send", "--file", str(path), "--from", "+15005550006", "--dsn", _dsn(sandbox),
               cwd=tmp_path)
    assert run.returncode == 1
    [line] = run.stderr.splitlines()
    assert line.startswith("error: ") and str(path) in line and "line 3" in line
    assert "UTF-8" in line and "Traceback" not in run.stderr
    assert len(sandbox.messages) == before  # nothing sent


def test_a_utf8_file_with_a_byte_order_mark_is_read(
    sandbox: TwilioSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("to,text\n+15550002222,café\n".encode("utf-8-sig"))
    run = _run("send", "--file", str(path), "--from", "+15005550006", "--dsn", _dsn(sandbox),
               "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr


def test_the_progress_total_counts_rows_not_lines(sandbox: TwilioSandbox, tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text('to,text\n+15550002222,"Hello\nacross two lines"\n')
    run = _run("send", "--file", str(path), "--from", "+15005550006", "--dsn", _dsn(sandbox),
               cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "1/1" in run.stderr and "1/2" not in run.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (("send", "--text", "no recipient"), "give --to"),
    (("send", "--to", "+15550002222", "--concurrency", "0"), "--concurrency"),
    (("send", "--to", "+15550002222", "--property", "NoEquals"), "--property"),
    (("send", "--to", "+15550002222", "--connector", "twilio/sms", "--set", "NoEquals"),
     "--set"),
    (("send", "--file", "x.csv", "--to", "+15550002222"), "not both"),
    (("send", "--bogus"), "unrecognized"),
    (("nosuch",), "invalid choice"),
    (("twilio",), "a command is required"),
    (("status",), "MESSAGE_ID"),
    (("twilio", "advance"), "--sandbox-url"),
    (("twilio", "sandbox", "--port", "99999"), "0..65535"),
    (("twilio", "sandbox", "--max-concurrency", "0"), "max_concurrency"),
])
def test_bad_arguments_exit_2_as_documented(args: tuple[str, ...], needle: str) -> None:
    run = _run(*args)
    assert run.returncode == 2, run.stderr
    [line] = [x for x in run.stderr.splitlines() if x.strip()]
    assert "error:" in line and needle in line and "--help" in line


def test_success_and_failure_exit_0_and_1_as_documented(sandbox: TwilioSandbox) -> None:
    ok = _run("send", "--to", "+15550002222", "--from", "+15005550006", "--text", "x", "--dsn",
              _dsn(sandbox))
    assert ok.returncode == 0 and ok.stderr == ""
    failed = _run("status", "SM" + "0" * 32, "--dsn", _dsn(sandbox))
    assert failed.returncode == 1 and failed.stderr.startswith("error: ")


def test_an_interrupted_command_exits_130_as_documented() -> None:
    slow = TwilioSandbox(progression="immediate", latency=60)
    arrived = threading.Event()
    handle = slow._api.handle

    def seen(request: Any) -> Any:
        arrived.set()
        return handle(request)

    slow._api.handle = seen  # type: ignore[method-assign]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "RATATOSK_"))}
    with slow:
        process = subprocess.Popen(
            [RATATOSK, "status", "SM" + "0" * 32, "--dsn", _dsn(slow)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        try:
            assert arrived.wait(60), "the request never reached the sandbox"
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130
    assert err.strip() == "interrupted"
