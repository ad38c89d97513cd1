"""Every example of the seed page has a working Python twin (examples/), run here on the sandbox."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ratatosk import ConnectionSettings, MessageStatus
from ratatosk_twilio.sandbox import TwilioSandbox
from ratatosk_twilio.signature import compute_signature

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sandbox() -> TwilioSandbox:
    with TwilioSandbox(progression="manual") as sb:
        yield sb  # type: ignore[misc]


def _settings(sb: TwilioSandbox) -> ConnectionSettings:
    return (
        ConnectionSettings()
        .set_parameter("AccountSid", sb.account_sid)
        .set_parameter("AuthToken", sb.auth_token)
        .set_parameter("BaseUrl", sb.base_url)
    )


@pytest.mark.parametrize("name", ["seed_text_sms", "seed_mms", "seed_custom_validity"])
async def test_seed_send_examples(
    name: str, sandbox: TwilioSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await _load(name).main(_settings(sandbox))
    assert result.is_success, result.error
    sid = result.data.remote_message_id
    assert sid.startswith(("SM", "MM"))
    assert result.data.status is MessageStatus.QUEUED
    stored = sandbox.get_message(sid)
    assert stored is not None
    assert sid in capsys.readouterr().out


async def test_seed_examples_send_what_the_seed_says(sandbox: TwilioSandbox) -> None:
    await _load("seed_mms").main(_settings(sandbox))
    await _load("seed_custom_validity").main(_settings(sandbox))
    mms, validity = sandbox.messages
    assert mms.num_media == 1 and mms.sid.startswith("MM")
    assert ("MediaUrl", "https://example.com/photo.jpg") in mms.params
    assert ("ValidityPeriod", "300") in validity.params and ("MaxPrice", "0.01") in validity.params


def test_seed_webhook_example(sandbox: TwilioSandbox) -> None:
    from fastapi.testclient import TestClient

    app = _load("seed_webhook_fastapi").create_app(_settings(sandbox))
    url = "http://testserver/webhooks/twilio/sms"
    status = {
        "MessageSid": "SM" + "1" * 32,
        "MessageStatus": "delivered",
        "AccountSid": sandbox.account_sid,
        "From": "+15550001111",
        "To": "+15550002222",
    }
    inbound = {
        "MessageSid": "SM" + "2" * 32,
        "AccountSid": sandbox.account_sid,
        "From": "+15550002222",
        "To": "+15550001111",
        "Body": "Hi there",
        "NumMedia": "0",
    }
    with TestClient(app) as client:
        for params in (status, inbound):
            signature = compute_signature(sandbox.auth_token, url, params)
            response = client.post(url, data=params, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/xml")
            assert "<Response" in response.text
        tampered = client.post(
            url, data={**inbound, "Body": "changed"}, headers={"X-Twilio-Signature": signature}
        )
        assert tampered.status_code == 403
    update, message = app.state.received
    assert update.status is MessageStatus.DELIVERED
    assert message.text == "Hi there"


def test_readme_five_lines_run_as_a_script() -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "five_lines.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("True SM"), run.stdout


def test_readme_shows_the_five_lines() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    script = (EXAMPLES / "five_lines.py").read_text()
    for line in (
        'message = ratatosk.Message.text("Hello", to="+15550002222", sender="+15550001111")',
        "result = connector.send_message(message)",
        "print(result.is_success, result.data.remote_message_id if result.is_success else",
    ):
        assert line in readme and line in script
