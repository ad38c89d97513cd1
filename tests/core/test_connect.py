"""ratatosk.connect: provider ids, provider names, DSNs, presets and its errors."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import ratatosk
from ratatosk import (
    ChannelSchema,
    ConnectionSettings,
    Connector,
    ConnectorState,
    MessageBuilder,
    MessagingError,
    MessagingErrorCodes,
    hookimpl,
)
from ratatosk.plugins import _manager as plugins

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "ratatosk-acme" / "src"))

import ratatosk_acme
from ratatosk_acme import ACME_SMS, NOTIFICATIONS, SEND_ONLY, AcmeSmsConnector
from ratatosk_acme.fake import ACCOUNT_ID, API_KEY, FakeAcmeApi

SETTINGS = {"AccountId": ACCOUNT_ID, "ApiKey": API_KEY}


@pytest.fixture(autouse=True)
def acme_registered() -> Iterator[None]:
    plugins.reset_plugin_manager()
    plugins.register_plugin(ratatosk_acme, name="acme")
    yield
    plugins.reset_plugin_manager()


@pytest.fixture
def api() -> FakeAcmeApi:
    return FakeAcmeApi()


class _Handler(BaseHTTPRequestHandler):
    api: FakeAcmeApi

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = httpx.Request(self.command, f"http://{self.headers['Host']}{self.path}",
                                headers=list(self.headers.items()), content=body)
        response = self.api.handle(request)
        self.send_response(response.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def acme_server(api: FakeAcmeApi) -> Iterator[tuple[str, int]]:
    """The fake Acme API behind a real HTTP server on 127.0.0.1."""
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[0], server.server_address[1]  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def _message(to: str = "+15550002222") -> ratatosk.Message:
    return MessageBuilder().from_phone("+15550001111").to_phone(to).with_text("hi").build()


def _error(excinfo: pytest.ExceptionInfo[MessagingError]) -> ratatosk.ErrorInfo:
    return excinfo.value.error


# -- finding the connector ---------------------------------------------------------------------


def test_connect_by_id_returns_a_lazily_initialized_connector(api: FakeAcmeApi) -> None:
    connector = ratatosk.connect("acme/sms", SETTINGS, http_transport=api.transport())
    assert type(connector) is AcmeSmsConnector
    assert connector.schema == ACME_SMS
    states = [connector.state]
    result = connector.blocking().send_message(_message())
    assert result.is_success, result.error
    states.append(connector.state)
    assert states == [ConnectorState.UNINITIALIZED, ConnectorState.READY]
    [request] = api.requests
    assert str(request.url) == f"https://api.acme.test/v1/accounts/{ACCOUNT_ID}/messages"


async def test_connect_by_provider_name_picks_its_default_connector(api: FakeAcmeApi) -> None:
    connector = ratatosk.connect("ACME", ConnectionSettings(SETTINGS),
                                 http_transport=api.transport())
    assert type(connector) is AcmeSmsConnector
    async with connector:
        assert (await connector.send_message(_message())).is_success


def test_connect_accepts_a_settings_string(api: FakeAcmeApi) -> None:
    connector = ratatosk.connect("acme/sms", f"AccountId={ACCOUNT_ID};ApiKey={API_KEY}",
                                 http_transport=api.transport())
    assert connector.blocking().send_message(_message()).is_success


def test_connect_forwards_constructor_options() -> None:
    with pytest.raises(TypeError):
        ratatosk.connect("acme/sms", SETTINGS, no_such_option=1)


# -- DSNs --------------------------------------------------------------------------------------


def test_dsn_with_default_host_uses_the_provider_endpoint(api: FakeAcmeApi) -> None:
    dsn = f"acme://{ACCOUNT_ID}:{API_KEY}@default?DefaultSender=%2B15550007777"
    connector = ratatosk.connect(dsn, http_transport=api.transport())
    settings = connector.settings
    assert settings.get_parameter("AccountId") == ACCOUNT_ID
    assert settings.get_parameter("ApiKey") == API_KEY
    assert settings.get_parameter("DefaultSender") == "+15550007777"
    assert not settings.has_parameter("BaseUrl")
    assert API_KEY not in repr(settings) and API_KEY not in str(settings)
    message = MessageBuilder().to_phone("+15550002222").with_text("no sender").build()
    assert connector.blocking().send_message(message).is_success
    assert api.requests[0].url.host == "api.acme.test"
    [stored] = api.messages.values()
    assert stored["from"] == "+15550007777"


def test_dsn_host_becomes_the_base_url_of_a_real_server(
    api: FakeAcmeApi, acme_server: tuple[str, int]
) -> None:
    host, port = acme_server
    connector = ratatosk.connect(f"acme+sms://{ACCOUNT_ID}:{API_KEY}@{host}:{port}")
    assert connector.settings.get_parameter("BaseUrl") == f"http://{host}:{port}"
    with connector.blocking() as blocking:
        result = blocking.send_message(_message())
        assert result.is_success, result.error
        assert result.data is not None and result.data.remote_message_id in api.messages
        status = blocking.get_message_status(result.data.remote_message_id)
        assert status.is_success and status.data is not None


def test_explicit_settings_override_the_dsn(api: FakeAcmeApi) -> None:
    connector = ratatosk.connect(f"acme://{ACCOUNT_ID}:wrong-key@default",
                                 {"ApiKey": API_KEY}, http_transport=api.transport())
    assert connector.settings.get_parameter("ApiKey") == API_KEY
    assert connector.blocking().send_message(_message()).is_success


def test_dsn_credentials_are_percent_decoded(api: FakeAcmeApi) -> None:
    api.api_key = "k/y:with@odd"
    connector = ratatosk.connect(f"acme://{ACCOUNT_ID}:k%2Fy%3Awith%40odd@default",
                                 http_transport=api.transport())
    assert connector.blocking().send_message(_message()).is_success


def test_dsn_for_an_unknown_type_is_not_found() -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect(f"acme+voice://{ACCOUNT_ID}:{API_KEY}@default")
    error = _error(excinfo)
    assert error.code == MessagingErrorCodes.CONNECTOR_NOT_FOUND
    assert "'acme/voice'" in error.message and "acme/sms" in error.message
    assert API_KEY not in str(excinfo.value)


@pytest.mark.parametrize(
    ("dsn", "fragment"),
    [
        (f"acme://{ACCOUNT_ID}:{API_KEY}@api.acme.test:port", "port"),
        (f"acme://{ACCOUNT_ID}:{API_KEY}@", "no host"),
        (f"1acme://{ACCOUNT_ID}:{API_KEY}@default", "scheme"),
        (f"acme://{ACCOUNT_ID}:{API_KEY}@default#frag", "fragment"),
    ],
)
def test_malformed_dsn_is_invalid_configuration_without_the_secret(dsn: str,
                                                                   fragment: str) -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect(dsn)
    error = _error(excinfo)
    assert error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert fragment in error.message
    assert API_KEY not in str(excinfo.value) and API_KEY not in repr(error)


def test_dsn_user_for_a_connector_without_authentication_is_refused() -> None:
    class Open(Connector):
        provider = "open"
        connector_type = "sms"
        default_schema = ChannelSchema(provider="open", type="sms", version="1")

    class Plugin:
        @hookimpl
        def ratatosk_register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
            register(Open)

    plugins.register_plugin(Plugin())
    assert isinstance(ratatosk.connect("open://default"), Open)
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect("open://user:topsecret@default")
    error = _error(excinfo)
    assert error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert "open/sms" in error.message and "topsecret" not in error.message


# -- schemas and presets -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"),
                         [("SendOnly", SEND_ONLY), ("notifications", NOTIFICATIONS)])
def test_schema_by_preset_name(name: str, expected: ChannelSchema) -> None:
    assert ratatosk.connect("acme/sms", SETTINGS, schema=name).schema == expected


def test_schema_object_is_used_as_given() -> None:
    custom = ACME_SMS.derive(name="Custom")
    assert ratatosk.connect("acme/sms", SETTINGS, schema=custom).schema is custom


def test_unknown_preset_is_invalid_configuration() -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect("acme/sms", SETTINGS, schema="Gold")
    error = _error(excinfo)
    assert error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert "'Gold'" in error.message
    assert "Notifications, SendOnly" in error.message


def test_preset_capability_gating_after_connect(api: FakeAcmeApi) -> None:
    connector = ratatosk.connect("acme/sms", SETTINGS, schema="SendOnly",
                                 http_transport=api.transport()).blocking()
    status = connector.get_message_status("am_000001")
    assert status.error is not None and status.error.code == "CAPABILITY_NOT_SUPPORTED"
    assert api.requests == []


# -- errors ------------------------------------------------------------------------------------


def test_unknown_provider_lists_what_is_available() -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect("nosuch/sms")
    error = _error(excinfo)
    assert excinfo.value.code == MessagingErrorCodes.CONNECTOR_NOT_FOUND
    assert "'nosuch/sms'" in error.message and "acme/sms" in error.message
    assert error.details["target"] == "'nosuch/sms'"
    assert "acme/sms" in error.details["available"]
    with pytest.raises(MessagingError) as by_name:
        ratatosk.connect("nosuch")
    assert by_name.value.code == MessagingErrorCodes.CONNECTOR_NOT_FOUND


def test_not_found_mentions_plugins_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @hookimpl
        def ratatosk_register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
            raise RuntimeError("cannot")

    plugins.register_plugin(Broken(), name="brokenplugin")
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect("nosuch/sms")
    assert "failed to load: brokenplugin" in _error(excinfo).message


def test_no_plugin_installed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATATOSK_DISABLE_PLUGINS", "1")
    plugins.reset_plugin_manager()
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect("acme/sms")
    assert "no provider plugin is installed" in _error(excinfo).message


@pytest.mark.parametrize("target", ["", "   ", "acme/sms/extra", "/sms", "acme/", "a b"])
def test_malformed_targets_are_invalid_configuration(target: str) -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect(target)
    assert excinfo.value.code == MessagingErrorCodes.INVALID_CONFIGURATION


@pytest.mark.parametrize("target", [f"acme:{ACCOUNT_ID}:{API_KEY}@default",
                                    f"acme:/{ACCOUNT_ID}:{API_KEY}@default"])
def test_a_dsn_without_its_slashes_is_refused_without_echoing_it(target: str) -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect(target)
    assert excinfo.value.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert "a DSN needs '://'" in excinfo.value.error.message
    assert API_KEY not in str(excinfo.value)


def test_malformed_settings_string_is_invalid_configuration() -> None:
    with pytest.raises(MessagingError) as excinfo:
        ratatosk.connect("acme/sms", f'AccountId={ACCOUNT_ID};ApiKey="{API_KEY}')
    assert excinfo.value.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert API_KEY not in str(excinfo.value)


def test_programming_errors_raise_type_error() -> None:
    with pytest.raises(TypeError):
        ratatosk.connect(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ratatosk.connect("acme/sms", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ratatosk.connect("acme/sms", SETTINGS, schema=42)  # type: ignore[arg-type]


def test_missing_settings_surface_on_first_use_as_a_result() -> None:
    connector = ratatosk.connect("acme/sms")
    result = connector.blocking().send_message(_message())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert {i.field for i in result.error.issues} == {"AccountId", "ApiKey"}
