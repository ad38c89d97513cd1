"""The Twilio plugin as the core sees it: entry point, registry, connect() and the CLI command."""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import ratatosk
from ratatosk import ConnectionSettings, MessagingError, MessagingErrorCodes
from ratatosk.cli._main import CommandRegistry
from ratatosk.cli._main import main as cli_main
from ratatosk_twilio import (
    TwilioChannelSchemas,
    TwilioErrorCodes,
    TwilioSmsConnector,
    TwilioWhatsAppConnector,
    _plugin,
)

ACCOUNT = "AC" + "0123456789abcdef" * 2
MG = "MG" + "a1" * 16


def test_entry_point_names_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="ratatosk") if ep.name == "twilio"]
    assert [ep.value for ep in found] == ["ratatosk_twilio._plugin"]
    assert found[0].load() is _plugin


def test_registry_finds_both_connectors_sms_by_default() -> None:
    assert ratatosk.get_connector_class("twilio/sms") is TwilioSmsConnector
    assert ratatosk.get_connector_class("twilio/whatsapp") is TwilioWhatsAppConnector
    from ratatosk.plugins import get_registry

    assert get_registry().default_for("twilio") is TwilioSmsConnector


def test_register_hook_registers_the_two_classes() -> None:
    registered: list[type[Any]] = []
    _plugin.ratatosk_register_connectors(registered.append)
    assert registered == [TwilioSmsConnector, TwilioWhatsAppConnector]


def test_connect_by_id_preset_and_dsn() -> None:
    sms = ratatosk.connect("twilio/sms", {"AccountSid": ACCOUNT, "AuthToken": "tok-1234"},
                           schema="SimpleSms")
    assert type(sms) is TwilioSmsConnector
    assert sms.schema == TwilioChannelSchemas.SIMPLE_SMS
    wa = ratatosk.connect("twilio/whatsapp", {"AccountSid": ACCOUNT, "AuthToken": "tok-1234"})
    assert type(wa) is TwilioWhatsAppConnector
    requests: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(201, json={"sid": "SM" + "0" * 32, "status": "accepted"})

    dsn = ratatosk.connect(f"twilio://{ACCOUNT}:tok-1234@127.0.0.1:8099?MessagingServiceSid={MG}",
                           http_transport=httpx.MockTransport(api))
    assert type(dsn) is TwilioSmsConnector
    message = ratatosk.MessageBuilder().to_phone("+15550002222").with_text("hi").build()
    result = dsn.blocking().send_message(message)
    assert result.is_success
    assert str(requests[0].url) == (
        f"http://127.0.0.1:8099/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    assert "tok-1234" not in repr(dsn.settings)
    whatsapp = ratatosk.connect(f"twilio+whatsapp://{ACCOUNT}:tok-1234@default")
    assert type(whatsapp) is TwilioWhatsAppConnector


def test_connect_unknown_preset_raises() -> None:
    with pytest.raises(MessagingError) as caught:
        ratatosk.connect("twilio/sms", {"AccountSid": ACCOUNT}, schema="NoSuchPreset")
    assert caught.value.code == MessagingErrorCodes.INVALID_CONFIGURATION


def test_error_codes_are_the_seeds_twelve() -> None:
    assert TwilioErrorCodes.DOMAIN == "Twilio"
    assert TwilioErrorCodes.all_codes() == (
        "INVALID_CONNECTION_SETTINGS", "MISSING_FROM_NUMBER", "INVALID_SENDER", "INVALID_MESSAGE",
        "MISSING_CONTENT_SID", "INVALID_WHATSAPP_NUMBER", "SEND_WHATSAPP_MESSAGE_FAILED",
        "WHATSAPP_STATUS_QUERY_FAILED", "STATUS_QUERY_FAILED", "STATUS_ERROR",
        "RECEIVE_MESSAGE_FAILED", "RECEIVE_STATUS_FAILED")


def test_sandbox_command_passes_its_options_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ratatosk_twilio.sandbox import _cli as sandbox_cli

    built: list[tuple[str, int, dict[str, Any]]] = []
    served: list[Any] = []

    class FakeSandbox:  # records what the command builds; serving is faked below
        def __init__(self, host: str, port: int, **options: Any) -> None:
            built.append((host, port, options))
            self._engine = SimpleNamespace(observer=None)

    def fake_serve(box: Any, banner: Any, *, where: str) -> int:
        served.append(box)
        return 3

    monkeypatch.setattr(sandbox_cli, "TwilioSandbox", FakeSandbox)
    monkeypatch.setattr(sandbox_cli, "serve_in_foreground", fake_serve)
    cli = CommandRegistry.root()
    _plugin.ratatosk_register_commands(cli)
    assert "twilio" in cli.names
    status = cli_main(["twilio", "sandbox", "--port", "8111", "--progression", "manual", "-v",
                       "--account-sid", ACCOUNT])
    assert status == 3
    host, port, options = built[0]
    assert (host, port) == ("127.0.0.1", 8111)
    assert options["progression"] == "manual" and options["account_sid"] == ACCOUNT
    assert served[0]._engine.observer is not None  # -v prints every message
    assert cli_main(["twilio", "sandbox"]) == 3
    assert built[1][1] == 0 and built[1][2]["progression"] == "realtime"  # the defaults
    assert served[1]._engine.observer is None
    assert cli_main(["twilio", "sandbox", "--help"]) == 0
    assert "--max-concurrency" in capsys.readouterr().out
    assert len(built) == 2


def test_settings_from_the_environment() -> None:
    settings = ConnectionSettings.from_env(
        "TWILIO_", {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "tok-1234"})
    connector = TwilioSmsConnector(None, settings)
    assert connector.blocking().initialize().is_success
    assert connector.parameters["AccountSid"] == ACCOUNT
