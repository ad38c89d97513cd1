"""The Pythonic user API end to end on the sandbox: keyword-built messages, snake_case settings
(in a mapping, a ``K=V`` string, a DSN and the environment) and ConnectionSettings as a mapping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ratatosk
from ratatosk import ConnectionSettings, Message
from ratatosk_twilio.sandbox import TwilioSandbox

CONTENT = "HX" + "e5" * 16
MG = "MG" + "a1" * 16


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox(progression="immediate") as sb:
        yield sb


def _host(sb: TwilioSandbox) -> str:
    return sb.base_url.split("://", 1)[1]


def test_snake_case_settings_string_and_keyword_text_message(sandbox: TwilioSandbox) -> None:
    text = (f"account_sid={sandbox.account_sid};auth_token={sandbox.auth_token};"
            f"base_url={sandbox.base_url};max_retries=0")
    with ratatosk.connect("twilio/sms", text).blocking() as connector:
        result = connector.send_message(
            Message.text("Hello", to="+15550002222", sender="+15550001111"))
    assert result.is_success, result.error
    assert result.data is not None
    stored = sandbox.get_message(result.data.remote_message_id or "")
    assert stored is not None
    assert (stored.to, stored.from_, stored.body) == ("+15550002222", "+15550001111", "Hello")


def test_snake_case_dsn_options_reach_the_connector(sandbox: TwilioSandbox) -> None:
    dsn = (f"twilio://{sandbox.account_sid}:{sandbox.auth_token}@{_host(sandbox)}"
           f"?messaging_service_sid={MG}")
    with ratatosk.connect(dsn).blocking() as connector:
        result = connector.send_message(Message.text("Via service", to="+15550002222"))
    assert result.is_success, result.error
    assert result.data is not None
    stored = sandbox.get_message(result.data.remote_message_id or "")
    assert stored is not None and stored.messaging_service_sid == MG


def test_mapping_settings_in_any_spelling_and_unknown_names_by_canonical_hint(
    sandbox: TwilioSandbox,
) -> None:
    settings = ConnectionSettings()
    settings["account_sid"] = sandbox.account_sid
    settings["authToken"] = sandbox.auth_token
    settings.update(base_url=sandbox.base_url)
    with ratatosk.connect("twilio/sms", settings).blocking() as connector:
        ok = connector.send_message(Message.media(
            "https://example.com/a.jpg", "https://example.com/b.png", text="Two photos",
            to="+15550002222", sender="+15550001111"))
    assert ok.is_success, ok.error
    assert ok.data is not None
    stored = sandbox.get_message(ok.data.remote_message_id or "")
    assert stored is not None and len(stored.media) == 2 and stored.body == "Two photos"

    settings["auth_tokn"] = "typo"
    with ratatosk.connect("twilio/sms", settings).blocking() as connector:
        bad = connector.send_message(Message.text("x", to="+15550002222"))
    assert bad.error is not None and bad.error.code == "INVALID_CONFIGURATION"
    assert [(i.field, i.code) for i in bad.error.issues] == [("auth_tokn", "unknown")]
    assert "did you mean AuthToken?" in bad.error.issues[0].message


def test_environment_and_whatsapp_template(
    sandbox: TwilioSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATATOSK_UA_ACCOUNT_SID", sandbox.account_sid)
    monkeypatch.setenv("RATATOSK_UA_AUTH_TOKEN", sandbox.auth_token)
    monkeypatch.setenv("RATATOSK_UA_BASE_URL", sandbox.base_url)
    settings = ConnectionSettings.from_env("RATATOSK_UA_")
    with ratatosk.connect("twilio/whatsapp", settings).blocking() as connector:
        result = connector.send_message(Message.template(
            CONTENT, {"1": "Ada"}, to="whatsapp:+15550002222", sender="whatsapp:+15550001111"))
        bare = connector.send_message(
            Message.text("Hola", to="+15550002222", sender="+15550001111"))
    assert result.is_success, result.error
    assert result.data is not None and bare.data is not None
    stored = sandbox.get_message(result.data.remote_message_id or "")
    assert stored is not None
    assert ("ContentSid", CONTENT) in stored.params
    assert (stored.to, stored.from_) == ("whatsapp:+15550002222", "whatsapp:+15550001111")
    stored = sandbox.get_message(bare.data.remote_message_id or "")
    assert stored is not None and stored.to == "whatsapp:+15550002222"


def test_keyword_messages_example_runs_on_the_sandbox(sandbox: TwilioSandbox) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "keyword_messages.py"
    spec = importlib.util.spec_from_file_location("example_keyword_messages", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    settings = ConnectionSettings.parse(
        f"account_sid={sandbox.account_sid};auth_token={sandbox.auth_token};"
        f"base_url={sandbox.base_url}")
    sids = module.main(settings)
    assert len(sids) == 3
    text, mms, short = (sandbox.get_message(sid) for sid in sids)
    assert text is not None and text.body == "Hello"
    assert mms is not None and len(mms.media) == 2 and mms.body == "Two pictures"
    assert short is not None and ("ValidityPeriod", "300") in short.params
