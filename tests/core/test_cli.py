"""The ``ratatosk`` command line: built-in commands, plugin commands, errors and exit codes."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ratatosk
from ratatosk import ChannelSchema, hookimpl
from ratatosk.cli import _main as cli
from ratatosk.plugins import _manager as plugins

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "ratatosk-acme" / "src"))

import ratatosk_acme
from ratatosk_acme import ACME_SMS, SEND_ONLY

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def acme_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RATATOSK_DEBUG", raising=False)
    monkeypatch.setenv("RATATOSK_PLAIN", "1")
    plugins.reset_plugin_manager()
    plugins.register_plugin(ratatosk_acme, name="acme")
    yield
    plugins.reset_plugin_manager()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- built-in commands -------------------------------------------------------------------------


def test_providers_lists_connectors_schemas_presets_and_origin(capsys: Capture) -> None:
    assert cli.main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "acme (<code>)" in out
    [row] = [line for line in out.splitlines() if "acme/sms" in line and "ratatosk_acme" in line]
    assert "acme/sms (default)" in row
    assert "acme/sms/1.0.0" in row
    assert "SendOnly, Notifications" in row
    assert "ratatosk_acme:AcmeSmsConnector" in row


def test_providers_json(capsys: Capture) -> None:
    assert cli.main(["providers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [acme] = [p for p in data["providers"] if p["name"] == "acme"]
    assert acme["distribution"] == "<code>" and acme["version"] is None
    [connector] = acme["connectors"]
    assert connector == {
        "id": "acme/sms", "class_path": "ratatosk_acme:AcmeSmsConnector",
        "schema": "acme/sms/1.0.0", "presets": ["SendOnly", "Notifications"],
        "plugin": "acme", "distribution": "<code>", "version": None, "is_default": True,
    }
    assert isinstance(data["failures"], list)


def test_providers_reports_load_failures(capsys: Capture) -> None:
    class Broken:
        @hookimpl
        def ratatosk_register_connectors(self, register: Callable[[Any], None]) -> None:
            register("not a class")

    plugins.register_plugin(Broken(), name="broken-one")
    assert cli.main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "Plugins that failed to load:" in out
    [row] = [line for line in out.splitlines() if "broken-one" in line]
    assert "register() takes a Connector subclass" in row
    assert cli.main(["providers", "--json"]) == 0
    failures = json.loads(capsys.readouterr().out)["failures"]
    assert {"name": "broken-one", "distribution": "<code>",
            "error": "register() takes a Connector subclass, got 'not a class'"} in failures


def test_providers_without_any_provider(capsys: Capture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATATOSK_DISABLE_PLUGINS", "1")
    plugins.reset_plugin_manager()
    assert cli.main(["providers"]) == 0
    assert "No providers are installed" in capsys.readouterr().out
    assert cli.main(["providers", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"providers": [], "failures": []}


def test_schema_json_is_the_exact_export(capsys: Capture) -> None:
    assert cli.main(["schema", "acme/sms", "--json"]) == 0
    out = capsys.readouterr().out
    assert out == ACME_SMS.to_json() + "\n"
    assert ChannelSchema.from_json(out) == ACME_SMS


def test_schema_json_of_a_preset(capsys: Capture) -> None:
    assert cli.main(["schema", "acme/sms", "--preset", "SendOnly", "--json"]) == 0
    assert ChannelSchema.from_json(capsys.readouterr().out) == SEND_ONLY


def test_schema_by_provider_name_shows_the_default_connector(capsys: Capture) -> None:
    assert cli.main(["schema", "acme", "--json"]) == 0
    assert ChannelSchema.from_json(capsys.readouterr().out) == ACME_SMS


def test_schema_table(capsys: Capture) -> None:
    assert cli.main(["schema", "acme/sms"]) == 0
    out = capsys.readouterr().out
    assert "Schema acme/sms/1.0.0" in out
    assert "presets        SendOnly, Notifications" in out or "Notifications, SendOnly" in out
    [api_key] = [line for line in out.splitlines() if line.strip().startswith("ApiKey")]
    assert api_key.split()[1:4] == ["string", "yes", "yes"]  # type, required, sensitive
    [validity] = [line for line in out.splitlines() if line.strip().startswith("ValidityPeriod")]
    assert "min 1.0" in validity and "max 86400.0" in validity
    assert "basic" in out and "AccountId (principal)" in out and "ApiKey (credential)" in out
    for capability in ACME_SMS.capabilities.names():
        assert capability in out


def test_schema_table_of_a_preset(capsys: Capture) -> None:
    assert cli.main(["schema", "acme/sms", "--preset", "SendOnly"]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.strip().startswith("capabilities")]
    assert line.split(None, 1)[1] == "SEND_MESSAGES"
    assert "SendOnly" in out


# -- errors and exit codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["schema", "nosuch/sms"], "CONNECTOR_NOT_FOUND"),
        (["schema", "acme/sms", "--preset", "Gold"], "INVALID_CONFIGURATION"),
        (["schema", "acme/voice", "--json"], "acme/sms"),
    ],
)
def test_command_failures_are_one_line_and_exit_1(capsys: Capture, argv: list[str],
                                                  expected: str) -> None:
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    [line] = _lines(captured.err)
    assert line.startswith("error: ") and expected in line
    assert "Traceback" not in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    "argv",
    [[], ["nosuch"], ["schema"], ["providers", "--bogus"], ["schema", "a/b", "--preset"]],
)
def test_bad_arguments_are_one_line_and_exit_2(capsys: Capture, argv: list[str]) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    [line] = _lines(captured.err)
    assert "error:" in line
    assert captured.out == ""


def test_version_and_help(capsys: Capture) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ratatosk {ratatosk.__version__}"
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "providers" in out and "schema" in out and "acme" in out


# -- plugin commands (ratatosk_register_commands) ----------------------------------------------


class Commands:
    """A throwaway plugin adding commands through ratatosk_register_commands."""

    def __init__(self) -> None:
        self.seen: list[argparse.Namespace] = []

    def _run(self, args: argparse.Namespace) -> int:
        self.seen.append(args)
        print(f"hello {args.name}")
        return 0

    @hookimpl
    def ratatosk_register_commands(self, cli: cli.CommandRegistry) -> None:
        cli.add_command("hello", help="Say hello", run=self._run,
                        configure=lambda p: p.add_argument("name"))
        tools = cli.add_group("tools", help="Tools")
        tools.add_command("noop", help="Do nothing", run=lambda args: None)
        tools.add_command("fail", help="Fail", run=self._fail)
        tools.add_command("usage", help="Bad usage", run=self._usage)
        tools.add_command("status", help="Exit 3", run=lambda args: 3)
        deep = tools.add_group("deep", help="Deeper")
        deep.add_command("leaf", help="A leaf", run=lambda args: print("leaf", args.n) or 0,
                         configure=lambda p: p.add_argument("--n", type=int, default=1))

    @staticmethod
    def _fail(args: argparse.Namespace) -> int:
        raise RuntimeError("the widget is jammed\nsecond line")

    @staticmethod
    def _usage(args: argparse.Namespace) -> int:
        raise cli.UsageError("give --thing")


@pytest.fixture
def commands() -> Commands:
    plugin = Commands()
    plugins.register_plugin(plugin, name="commands")
    return plugin


def test_ratatosk_register_commands_adds_commands(capsys: Capture, commands: Commands) -> None:
    assert cli.main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    assert commands.seen[0].name == "world"
    assert cli.main(["tools", "noop"]) == 0
    assert cli.main(["tools", "status"]) == 3
    assert cli.main(["tools", "deep", "leaf", "--n", "5"]) == 0
    assert capsys.readouterr().out == "leaf 5\n"


def test_group_without_subcommand_is_a_usage_error(capsys: Capture, commands: Commands) -> None:
    assert cli.main(["tools"]) == 2
    [line] = _lines(capsys.readouterr().err)
    assert line == "ratatosk tools: error: a command is required (see 'ratatosk tools --help')"
    assert cli.main(["tools", "deep"]) == 2
    assert "ratatosk tools deep: error" in capsys.readouterr().err


def test_failing_plugin_command(capsys: Capture, commands: Commands) -> None:
    assert cli.main(["tools", "fail"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: the widget is jammed\n"
    assert cli.main(["tools", "usage"]) == 2
    # as docs/cli.md shows a usage error: the command's path, and where help is
    assert capsys.readouterr().err == (
        "ratatosk tools usage: error: give --thing (see 'ratatosk tools usage --help')\n")


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, commands: Commands) -> None:
    monkeypatch.setenv("RATATOSK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="jammed"):
        cli.main(["tools", "fail"])


def test_duplicate_and_clashing_commands_warn_and_keep_the_first(capsys: Capture,
                                                                 commands: Commands) -> None:
    class Clash:
        @hookimpl
        def ratatosk_register_commands(self, cli: cli.CommandRegistry) -> None:
            cli.add_command("providers", help="shadow", run=lambda args: 99)
            cli.add_group("hello", help="clash with a command").add_command(
                "x", help="x", run=lambda args: 98)
            cli.add_group("tools", help="shared group").add_command(
                "extra", help="added to another plugin's group", run=lambda args: 7)

    plugins.register_plugin(Clash(), name="clash")
    assert cli.main(["providers", "--json"]) == 0
    err = capsys.readouterr().err
    assert "warning: plugin 'clash': command 'providers' is already defined by ratatosk" in err
    assert "group 'hello' clashes with a command defined by plugin 'commands'" in err
    assert cli.main(["tools", "extra"]) == 7


def test_plugin_whose_command_hook_raises_is_reported(capsys: Capture) -> None:
    class Raises:
        @hookimpl
        def ratatosk_register_commands(self, cli: cli.CommandRegistry) -> None:
            raise ImportError("optional dependency missing")

    plugins.register_plugin(Raises(), name="raises")
    assert cli.main(["providers"]) == 0
    captured = capsys.readouterr()
    assert ("warning: plugin 'raises': failed to add its commands: "
            "optional dependency missing") in captured.err
    assert "acme" in captured.out


@pytest.mark.parametrize("name", ["", "-x", "two words"])
def test_invalid_command_names_are_refused(name: str) -> None:
    registry = cli.CommandRegistry.root()
    with pytest.raises(ValueError):
        registry.add_command(name, help="", run=lambda args: 0)
    with pytest.raises(ValueError):
        registry.add_group(name, help="")


def test_builtin_commands_come_through_the_plugin_hook(capsys: Capture) -> None:
    from ratatosk import get_plugin_manager, hookimpl

    manager = get_plugin_manager()
    registry = cli.build_registry()
    builtin = manager.get_plugin(cli.BuiltinCommands.name)
    assert builtin is not None
    implementations = manager.hook.ratatosk_register_commands.get_hookimpls()
    assert builtin in [impl.plugin for impl in implementations]
    assert {"providers", "schema", "send", "status"} <= set(registry.names)

    class Ping:
        @hookimpl
        def ratatosk_register_commands(self, cli: cli.CommandRegistry) -> None:
            cli.add_command("ping", help="pong", run=lambda args: print("pong") or 0)

    plugin = Ping()
    manager.register(plugin, "ping-plugin")
    try:
        assert cli.main(["ping"]) == 0
        assert capsys.readouterr().out == "pong\n"
        assert "ping" in cli.build_registry().names
    finally:
        manager.unregister(plugin)


def test_acme_plugin_command(capsys: Capture) -> None:
    assert cli.main(["acme", "info", "--preset", "SendOnly"]) == 0
    assert capsys.readouterr().out == "acme 0.3.1: acme/sms/1.0.0 (SendOnly)\n"


# -- output ------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_output_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RATATOSK_PLAIN", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = _Terminal()
    sections = cli.schema_sections(ACME_SMS)
    cli.render(sections, stream)
    text = stream.getvalue()
    assert "ApiKey" in text and "Parameters" in text
    assert text != cli.render_plain(sections)
    assert "\u2503" in text or "\u2502" in text or "|" in text  # rich draws box lines


def test_plain_output_when_not_a_terminal_or_asked() -> None:
    sections = cli.schema_sections(ACME_SMS)
    plain = io.StringIO()
    cli.render(sections, plain)
    assert plain.getvalue() == cli.render_plain(sections)
    terminal = _Terminal()
    cli.render(sections, terminal)  # RATATOSK_PLAIN=1 from the fixture
    assert terminal.getvalue() == cli.render_plain(sections)


# -- the installed command -----------------------------------------------------------------------


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RATATOSK_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "ratatosk.cli", *args], capture_output=True,
                          text=True, env=environ, timeout=60)


def test_providers_does_not_import_httpx_or_rich() -> None:
    code = ("import sys; from ratatosk.cli._main import main; main(['providers']); "
            "print('MODULES', sorted(m for m in ('httpx', 'rich', 'cattrs') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "RATATOSK_DISABLE_PLUGINS": "1"})
    assert done.returncode == 0, done.stderr
    assert "MODULES []" in done.stdout


def test_console_script_bad_arguments_exit_2() -> None:
    done = _run("schema")
    assert done.returncode == 2
    assert len(_lines(done.stderr)) == 1 and "Traceback" not in done.stderr


def test_console_script_schema_for_an_unknown_connector_exits_1() -> None:
    done = _run("schema", "nosuch/sms", RATATOSK_DISABLE_PLUGINS="1")
    assert done.returncode == 1
    assert done.stderr.startswith("error: no connector 'nosuch/sms' is installed")
    assert len(_lines(done.stderr)) == 1



def test_only_the_selected_command_is_configured(capsys: Capture) -> None:
    configured: list[str] = []

    class Costly:
        @hookimpl
        def ratatosk_register_commands(self, cli: cli.CommandRegistry) -> None:
            group = cli.add_group("costly", help="expensive set-up")

            def configure_for(name: str) -> Callable[[argparse.ArgumentParser], None]:
                return lambda parser: configured.append(name)

            for name in ("a", "b"):
                group.add_command(name, help=name, run=lambda args: 0,
                                  configure=configure_for(name))

    plugins.register_plugin(Costly())
    assert cli.main(["providers"]) == 0
    assert configured == []
    assert cli.main(["costly", "b"]) == 0
    assert configured == ["b"]
    assert cli.main(["--help"]) == 0
    assert configured == ["b"]
    cli.build_registry().build_parser()  # no argv: everything configured (for docs, tools)
    assert configured == ["b", "a", "b"]


# -- ratatosk send: connector choice with a DSN, row counting (issue 9 item 8, issue 13) --------


def test_the_connector_asked_for_names_the_dsns_type(monkeypatch: pytest.MonkeyPatch) -> None:
    from ratatosk.cli._send import _dsn_for_connector

    monkeypatch.delenv("RATATOSK_CONNECTOR", raising=False)
    dsn = "twilio://AC1:secret@default?X=1"
    assert _dsn_for_connector(dsn, None) == dsn
    assert _dsn_for_connector(dsn, "twilio") == dsn
    assert _dsn_for_connector(dsn, "twilio/whatsapp") == "twilio+whatsapp://AC1:secret@default?X=1"
    assert _dsn_for_connector("twilio+whatsapp://a:b@default", "twilio/WhatsApp") \
        == "twilio+whatsapp://a:b@default"
    monkeypatch.setenv("RATATOSK_CONNECTOR", "twilio/whatsapp")
    assert _dsn_for_connector(dsn, None).startswith("twilio+whatsapp://")
    for connector, wrong in (("acme/sms", dsn), ("twilio/sms", "twilio+whatsapp://a:b@h")):
        with pytest.raises(cli.UsageError) as info:
            _dsn_for_connector(wrong, connector)
        assert "secret" not in str(info.value) and connector in str(info.value)


@pytest.mark.parametrize(("name", "text", "rows"), [
    ("one.csv", 'to,text\n+15550002222,"two\nlines"\n', 1),
    ("crlf.csv", "to,text\r\n+15550002222,a\r\n+15550002223,b\r\n", 2),
    ("blank.csv", "to,text\n\n+15550002222,a\n\n", 1),
    ("header.csv", "to,text\n", 0),
    ("rows.jsonl", '{"to": "+15550002222"}\n\n{"to": "+15550002223"}\n', 2),
])
def test_the_progress_total_is_the_number_of_rows(tmp_path: Path, name: str, text: str,
                                                  rows: int) -> None:
    from ratatosk.cli._send import _count_rows, _read_rows

    path = tmp_path / name
    path.write_bytes(text.encode())
    assert _count_rows(path) == rows == len(list(_read_rows(path)))


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"to": "+15550002222", "text": "ok"}\n{"text": "café"}\n'.encode("latin-1"))
    assert cli.main(["send", "--connector", "acme/sms", "--file", str(path)]) == 1
    [line] = _lines(capsys.readouterr().err)
    assert line == (f"error: {path}, line 2: not UTF-8 text (byte 0xe9 at column 14); save the "
                    "file as UTF-8")
