"""The plugin manager, entry-point loading, the connector registry and every hook firing."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

import ratatosk
from ratatosk import (
    ChannelSchema,
    Connector,
    Message,
    MessageBuilder,
    MessageSource,
    MessageStatus,
    Result,
    SendResult,
    StatusUpdate,
    hookimpl,
)
from ratatosk.plugins import _manager as plugins

ACME_SRC = Path(__file__).resolve().parents[1] / "plugins" / "ratatosk-acme" / "src"
sys.path.insert(0, str(ACME_SRC))

from ratatosk_acme import ACME_SMS, AcmeSmsConnector  # noqa: E402
from ratatosk_acme.fake import ACCOUNT_ID, API_KEY, FakeAcmeApi  # noqa: E402

Register = Callable[[type[Connector]], None]


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets a new plugin manager (and the next user of ratatosk one after it)."""
    monkeypatch.delenv("RATATOSK_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("RATATOSK_PLUGINS", raising=False)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


def _schema(provider: str, kind: str) -> ChannelSchema:
    return ChannelSchema(provider=provider, type=kind, version="1.0.0")


def _connector(provider: str, kind: str, **attributes: Any) -> type[Connector]:
    namespace: dict[str, Any] = {"provider": provider, "connector_type": kind,
                                 "default_schema": _schema(provider, kind), **attributes}
    return type(f"{provider.title()}{kind.title()}Connector", (Connector,), namespace)


class Registers:
    """A throwaway plugin registering the classes it is given."""

    def __init__(self, *classes: Any) -> None:
        self.classes = classes

    @hookimpl
    def ratatosk_register_connectors(self, register: Register) -> None:
        for cls in self.classes:
            register(cls)


# ---------------------------------------------------------------------------------------------
# the manager
# ---------------------------------------------------------------------------------------------


def test_import_ratatosk_loads_no_plugin() -> None:
    code = ("import sys, ratatosk; print(sorted(m for m in sys.modules "
            "if m.startswith(('ratatosk', 'importlib_metadata'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "ratatosk.plugins" not in out
    assert "ratatosk_twilio" not in out
    assert "importlib_metadata" not in out
    assert "'ratatosk'" in out


def test_manager_is_a_lazy_singleton_with_every_hookspec() -> None:
    manager = plugins.get_plugin_manager()
    assert manager is plugins.get_plugin_manager()
    assert manager.project_name == "ratatosk"
    names = {name for name in dir(ratatosk.hookspecs) if name.startswith("ratatosk_")}
    assert names
    for name in names:
        assert getattr(manager.hook, name).has_spec()
    plugins.reset_plugin_manager()
    assert plugins.get_plugin_manager() is not manager
    assert ratatosk.get_plugin_manager is plugins.get_plugin_manager


def test_registered_plugin_adds_connectors_and_unregistering_removes_them() -> None:
    cls = _connector("zeta", "sms")
    plugin = Registers(cls)
    assert plugins.get_connector_class("zeta/sms") is None
    name = plugins.register_plugin(plugin, name="zeta-plugin")
    assert name == "zeta-plugin"
    assert plugins.get_connector_class("zeta/sms") is cls
    assert plugins.get_connector_class("ZETA/SMS") is cls  # ids are case-insensitive
    assert ratatosk.get_connector_class("zeta/sms") is cls
    assert plugins.unregister_plugin(plugin) is plugin
    assert plugins.get_connector_class("zeta/sms") is None
    assert plugins.unregister_plugin(plugin) is None
    assert plugins.unregister_plugin(name="never-registered") is None


def test_registry_refreshes_when_the_manager_is_used_directly() -> None:
    cls = _connector("direct", "sms")
    plugins.get_registry()
    manager = plugins.get_plugin_manager()
    plugin = Registers(cls)
    manager.register(plugin, name="direct")
    assert plugins.get_connector_class("direct/sms") is cls
    manager.unregister(plugin)
    assert plugins.get_connector_class("direct/sms") is None


def test_unregister_by_name() -> None:
    plugins.register_plugin(Registers(_connector("byname", "sms")), name="byname")
    assert plugins.get_connector_class("byname/sms") is not None
    assert plugins.unregister_plugin(name="byname") is not None
    assert plugins.get_connector_class("byname/sms") is None


def test_list_providers_describes_connectors_and_their_origin() -> None:
    sms = _connector("omega", "sms", presets={"Lite": _schema("omega", "sms").derive(name="Lite")})
    voice = _connector("omega", "voice", default_for_provider=True)
    plugins.register_plugin(Registers(sms, voice), name="omega-plugin")
    [provider] = [p for p in ratatosk.list_providers() if p.name == "omega"]
    assert provider.distribution == plugins.CODE_DISTRIBUTION
    assert provider.version is None
    assert provider.failures == ()
    by_id = {c.id: c for c in provider.connectors}
    assert set(by_id) == {"omega/sms", "omega/voice"}
    assert by_id["omega/sms"].class_path == f"{sms.__module__}:{sms.__qualname__}"
    assert by_id["omega/sms"].schema == "omega/sms/1.0.0"
    assert by_id["omega/sms"].presets == ("Lite",)
    assert by_id["omega/sms"].plugin == "omega-plugin"
    assert by_id["omega/voice"].is_default and not by_id["omega/sms"].is_default
    assert plugins.get_registry().default_for("omega") is voice


def test_default_connector_is_the_first_registered_without_a_marker() -> None:
    first, second = _connector("pi", "sms"), _connector("pi", "mms")
    plugins.register_plugin(Registers(first, second))
    assert plugins.get_registry().default_for("pi") is first
    assert plugins.get_registry().default_for("nobody") is None


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (42, "takes a Connector subclass"),
        (dict, "takes a Connector subclass"),
        (_connector("", "sms"), "no valid 'provider'"),
        (_connector("a/b", "sms"), "no valid 'provider'"),
        (_connector("nu", ""), "no valid 'connector_type'"),
        (type("NoSchema", (Connector,), {"provider": "nu", "connector_type": "sms"}),
         "no default_schema"),
        (_connector("nu", "sms", presets={"Bad": "not a schema"}), "presets must map"),
    ],
)
def test_invalid_connector_classes_are_recorded_and_skipped(bad: Any, expected: str) -> None:
    good = _connector("good", "sms")
    plugins.register_plugin(Registers(bad, good), name="mixed")
    assert plugins.get_connector_class("good/sms") is good
    failures = [f for f in plugins.list_failures() if f.name == "mixed"]
    assert len(failures) == 1
    assert expected in failures[0].error
    assert failures[0].distribution == plugins.CODE_DISTRIBUTION


def test_duplicate_connector_id_keeps_the_first_and_records_the_second() -> None:
    first, second = _connector("dup", "sms"), _connector("dup", "sms")
    plugins.register_plugin(Registers(first), name="first")
    plugins.register_plugin(Registers(second), name="second")
    assert plugins.get_connector_class("dup/sms") is first
    [failure] = [f for f in plugins.list_failures() if f.name == "second"]
    assert "'dup/sms'" in failure.error and "already registered by first" in failure.error
    [provider] = [p for p in plugins.list_providers() if p.name == "dup"]
    assert [c.plugin for c in provider.connectors] == ["first"]


def test_same_class_registered_twice_is_not_a_failure() -> None:
    cls = _connector("twice", "sms")
    plugins.register_plugin(Registers(cls, cls), name="twice")
    assert plugins.get_connector_class("twice/sms") is cls
    assert not [f for f in plugins.list_failures() if f.name == "twice"]


def test_a_registering_plugin_that_raises_is_recorded_and_others_still_load() -> None:
    class Broken:
        @hookimpl
        def ratatosk_register_connectors(self, register: Register) -> None:
            raise RuntimeError("boom\nsecond line")

    good = _connector("fine", "sms")
    plugins.register_plugin(Broken(), name="broken")
    plugins.register_plugin(Registers(good), name="fine")
    assert plugins.get_connector_class("fine/sms") is good
    [failure] = [f for f in plugins.list_failures() if f.name == "broken"]
    assert failure.error == "ratatosk_register_connectors failed: RuntimeError: boom"
    assert str(failure) == f"broken (from <code>): {failure.error}"


def test_register_plugin_rejects_mismatched_and_unknown_hooks() -> None:
    class WrongArgs:
        @hookimpl
        def ratatosk_register_connectors(self, registrar: Register) -> None:
            """wrong argument name"""

    class UnknownHook:
        @hookimpl
        def ratatosk_register_widgets(self, register: Register) -> None:
            """no such hook"""

    with pytest.raises(pluggy.PluginValidationError):
        plugins.register_plugin(WrongArgs())
    unknown = UnknownHook()
    with pytest.raises(pluggy.PluginValidationError, match="ratatosk_register_widgets"):
        plugins.register_plugin(unknown)
    assert plugins.get_plugin_manager().get_name(unknown) is None


def test_register_plugin_rejects_a_blocked_name() -> None:
    plugins.get_plugin_manager().set_blocked("blocked")
    with pytest.raises(ValueError, match="blocked"):
        plugins.register_plugin(Registers(), name="blocked")


# ---------------------------------------------------------------------------------------------
# entry points (real dist-info directories on sys.path)
# ---------------------------------------------------------------------------------------------

GOOD_PLUGIN = """
from ratatosk import ChannelSchema, Connector, hookimpl

class {cls}(Connector):
    provider = "{provider}"
    connector_type = "sms"
    default_schema = ChannelSchema(provider="{provider}", type="sms", version="2.0.0")

@hookimpl
def ratatosk_register_connectors(register):
    register({cls})
"""


def _install_fake_distribution(root: Path, dist: str, version: str,
                               entry_points: dict[str, str], modules: dict[str, str]) -> None:
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[ratatosk]\n{lines}")


@pytest.fixture
def fake_distributions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _install_fake_distribution(
        tmp_path, "ratatosk-gamma", "1.2.3", {"gamma": "gamma_plugin"},
        {"gamma_plugin": GOOD_PLUGIN.format(cls="GammaConnector", provider="gamma")})
    _install_fake_distribution(
        tmp_path, "ratatosk-broken", "0.0.1",
        {"broken": "broken_plugin", "mismatched": "mismatched_plugin",
         "stale": "stale_plugin"},
        {"broken_plugin": "raise ImportError('needs the acme-sdk package')\n",
         "mismatched_plugin": """
             from ratatosk import hookimpl

             @hookimpl
             def ratatosk_register_connectors(registrar):
                 pass
         """,
         "stale_plugin": """
             from ratatosk import hookimpl

             @hookimpl
             def ratatosk_register_gadgets(register):
                 pass
         """})
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path


def _failures_by_name() -> dict[str, plugins.PluginLoadFailure]:
    return {f.name: f for f in plugins.list_failures()}


def test_entry_points_load_and_failures_are_recorded(fake_distributions: Path) -> None:
    registry = plugins.get_registry()
    cls = registry.get("gamma/sms")
    assert cls is not None and cls.__name__ == "GammaConnector"
    [gamma] = [p for p in plugins.list_providers() if p.name == "gamma"]
    assert (gamma.distribution, gamma.version) == ("ratatosk-gamma", "1.2.3")
    assert plugins.plugin_sources()["gamma"] == plugins.PluginSource("gamma", "ratatosk-gamma",
                                                                     "1.2.3")
    failures = _failures_by_name()
    assert failures["broken"].distribution == "ratatosk-broken"
    assert failures["broken"].error == ("cannot import broken_plugin: "
                                        "ImportError: needs the acme-sdk package")
    assert "PluginValidationError" in failures["mismatched"].error
    assert "registrar" in failures["mismatched"].error
    assert "ratatosk_register_gadgets" in failures["stale"].error
    manager = plugins.get_plugin_manager()
    for name in ("broken", "mismatched", "stale"):
        assert manager.get_plugin(name) is None


def test_disable_plugins_keeps_code_registrations(fake_distributions: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATATOSK_DISABLE_PLUGINS", "1")
    plugins.reset_plugin_manager()
    assert plugins.get_connector_class("gamma/sms") is None
    assert plugins.list_failures() == []
    assert plugins.get_plugin_manager().list_name_plugin() == []
    cls = _connector("incode", "sms")
    plugins.register_plugin(Registers(cls))
    assert plugins.get_connector_class("incode/sms") is cls


@pytest.mark.parametrize("value", ["0", "false", "", "no"])
def test_disable_plugins_accepts_false_words(fake_distributions: Path,
                                             monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RATATOSK_DISABLE_PLUGINS", value)
    plugins.reset_plugin_manager()
    assert plugins.get_connector_class("gamma/sms") is not None


def test_only_named_plugins_load(fake_distributions: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATATOSK_PLUGINS", "gamma, nonexistent")
    plugins.reset_plugin_manager()
    assert plugins.get_connector_class("gamma/sms") is not None
    failures = _failures_by_name()
    assert "broken" not in failures and "mismatched" not in failures
    assert "no installed distribution has an entry point 'nonexistent'" in \
        failures["nonexistent"].error
    names = [name for name, _ in plugins.get_plugin_manager().list_name_plugin()]
    assert names == ["gamma"]


# ---------------------------------------------------------------------------------------------
# every hook fires
# ---------------------------------------------------------------------------------------------


def _acme(api: FakeAcmeApi) -> AcmeSmsConnector:
    plugins.register_plugin(Registers(AcmeSmsConnector), name="acme-test")
    connector = ratatosk.connect("acme/sms", {"AccountId": ACCOUNT_ID, "ApiKey": API_KEY},
                                 http_transport=api.transport())
    assert isinstance(connector, AcmeSmsConnector)
    return connector


def _message(text: str = "hello") -> Message:
    return MessageBuilder().from_phone("+15550001111").to_phone("+15550002222") \
        .with_text(text).build()


class Recorder:
    """Implements every observation hook and records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def ratatosk_before_send(self, connector: Connector, message: Message) -> Message | None:
        self.calls.append(("before", message))
        if message.text == "rewrite me":
            return MessageBuilder().with_id(message.id).from_phone("+15550001111") \
                .to_phone("+15550009999").with_text("rewritten").build()
        return None

    @hookimpl
    def ratatosk_after_send(self, connector: Connector, message: Message,
                            result: Result[SendResult]) -> None:
        self.calls.append(("after", (message, result)))

    @hookimpl
    def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
        self.calls.append(("received", message))

    @hookimpl
    def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
        self.calls.append(("status", update))


async def test_ratatosk_before_send_and_ratatosk_after_send_fire() -> None:
    api = FakeAcmeApi()
    recorder = Recorder()
    plugins.register_plugin(recorder)
    connector = _acme(api)
    message = _message()
    result = await connector.send_message(message)
    assert result.is_success
    assert [kind for kind, _ in recorder.calls] == ["before", "after"]
    assert recorder.calls[0][1] is message
    sent, after_result = recorder.calls[1][1]
    assert sent is message and after_result is result


def test_ratatosk_before_send_can_rewrite_the_message() -> None:
    api = FakeAcmeApi()
    recorder = Recorder()
    plugins.register_plugin(recorder)
    connector = _acme(api).blocking()
    result = connector.send_message(_message("rewrite me"))
    assert result.is_success
    [stored] = api.messages.values()
    assert (stored["to"], stored["text"]) == ("+15550009999", "rewritten")
    sent, _ = recorder.calls[-1][1]
    assert sent.text == "rewritten"


def test_ratatosk_after_send_sees_failures_too() -> None:
    api = FakeAcmeApi()
    recorder = Recorder()
    plugins.register_plugin(recorder)
    connector = _acme(api).blocking()
    bad = MessageBuilder().from_phone("+15550001111").to_phone("15550002222") \
        .with_text("no plus").build()
    result = connector.send_message(bad)
    assert result.error is not None and result.error.code == "INVALID_RECIPIENT"
    _, (_, after_result) = recorder.calls[-1]
    assert after_result is result


async def test_ratatosk_message_received_fires_per_message() -> None:
    recorder = Recorder()
    plugins.register_plugin(recorder)
    connector = _acme(FakeAcmeApi())
    one = {"id": "in_1", "from": "+15550002222", "to": "+15550001111", "text": "hi"}
    source = MessageSource.json({"messages": [one, {**one, "id": "in_2"}]})
    result = await connector.receive_messages(source)
    assert result.is_success
    received = [m.id for kind, m in recorder.calls if kind == "received"]
    assert received == ["in_1", "in_2"]


async def test_ratatosk_status_received_fires() -> None:
    recorder = Recorder()
    plugins.register_plugin(recorder)
    connector = _acme(FakeAcmeApi())
    result = await connector.receive_message_status(
        MessageSource.json({"id": "am_7", "status": "delivered"}))
    assert result.is_success
    [(kind, update)] = recorder.calls
    assert kind == "status"
    assert (update.remote_message_id, update.status) == ("am_7", MessageStatus.DELIVERED)


def test_hook_failures_do_not_change_results(caplog: pytest.LogCaptureFixture) -> None:
    class Faulty:
        @hookimpl
        def ratatosk_after_send(self, connector: Connector, message: Message,
                                result: Result[SendResult]) -> None:
            raise RuntimeError(f"observer broke while seeing {API_KEY}")

    plugins.register_plugin(Faulty())
    result = _acme(FakeAcmeApi()).blocking().send_message(_message())
    assert result.is_success
    assert "observer broke" in caplog.text
    assert API_KEY not in caplog.text


def test_acme_registers_through_its_own_hook() -> None:
    import ratatosk_acme

    plugins.register_plugin(ratatosk_acme, name="acme-module")
    assert plugins.get_connector_class("acme/sms") is AcmeSmsConnector
    [provider] = [p for p in plugins.list_providers() if p.name == "acme"]
    [info] = provider.connectors
    assert info.schema == ACME_SMS.identity
    assert info.presets == ("SendOnly", "Notifications")
    assert info.is_default

