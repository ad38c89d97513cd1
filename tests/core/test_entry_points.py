"""A separately installed provider distribution is found through its entry point alone.

``tests/plugins/ratatosk-acme`` is built and installed with pip (once per session) into a private
target directory, and every check runs in a fresh interpreter that sees it through
``PYTHONPATH``: the real ``importlib.metadata`` discovery path, the distribution's own name and
version, and nothing imported from the source tree. Installing into a private directory rather
than the shared virtual environment keeps other tests (and people) from seeing the test plugin.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratatosk import ChannelSchema

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "tests" / "plugins" / "ratatosk-acme"
ACME_VERSION = "0.3.1"
SCRIPT = Path(sys.executable).parent / ("ratatosk.exe" if os.name == "nt" else "ratatosk")


def _pip_install(target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input",
               "--disable-pip-version-check", "--quiet", "--target", str(target)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")  # offline when the backend is already here
    done = subprocess.run([*command, str(ACME)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """ratatosk-acme installed by pip into a private site directory (removed afterwards)."""
    target = tmp_path_factory.mktemp("acme-site")
    _pip_install(target)
    yield target
    shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A distribution whose entry points point at a module raising ImportError and at a
    plugin whose hook implementation does not match its specification."""
    root = tmp_path_factory.mktemp("broken-site")
    (root / "ratatosk_broken_mod.py").write_text(
        "raise ImportError('ratatosk_broken needs the frobnicator package')\n")
    (root / "ratatosk_typo_mod.py").write_text(textwrap.dedent("""
        from ratatosk import hookimpl

        @hookimpl
        def ratatosk_register_connectors(registr):
            raise AssertionError("never called")
    """))
    info = root / "ratatosk_broken-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ratatosk-broken\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[ratatosk]\nbroken = ratatosk_broken_mod\ntypo = ratatosk_typo_mod\n")
    return root


def _env(*paths: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RATATOSK_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env.update(extra)
    return env


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _ratatosk(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([str(SCRIPT), *args], env, cwd)


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-c", textwrap.dedent(code)], env, cwd)


def test_the_distribution_was_installed_by_pip(acme_site: Path) -> None:
    [info] = acme_site.glob("ratatosk_acme-*.dist-info")
    assert info.name == f"ratatosk_acme-{ACME_VERSION}.dist-info"
    assert "[ratatosk]\nacme = ratatosk_acme" in (info / "entry_points.txt").read_text()
    assert (acme_site / "ratatosk_acme" / "__init__.py").is_file()


def test_providers_lists_acme_with_its_distribution(acme_site: Path, tmp_path: Path) -> None:
    done = _ratatosk("providers", "--json", env=_env(acme_site), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    [acme] = [p for p in data["providers"] if p["name"] == "acme"]
    assert (acme["distribution"], acme["version"]) == ("ratatosk-acme", ACME_VERSION)
    [connector] = acme["connectors"]
    assert connector["id"] == "acme/sms"
    assert connector["class_path"] == "ratatosk_acme:AcmeSmsConnector"
    assert connector["plugin"] == "acme"
    assert (connector["distribution"], connector["version"]) == ("ratatosk-acme", ACME_VERSION)
    assert not [f for f in data["failures"] if f["name"] == "acme"]
    table = _ratatosk("providers", env=_env(acme_site), cwd=tmp_path)
    assert f"acme (ratatosk-acme {ACME_VERSION})" in table.stdout


def test_connect_sends_through_the_installed_plugin(acme_site: Path, tmp_path: Path) -> None:
    code = """
        import json, ratatosk
        from ratatosk_acme.fake import FakeAcmeApi, ACCOUNT_ID, API_KEY
        import ratatosk_acme

        api = FakeAcmeApi()
        connector = ratatosk.connect(f"acme://{ACCOUNT_ID}:{API_KEY}@default",
                                     http_transport=api.transport())
        message = (ratatosk.MessageBuilder().from_phone("+15550001111")
                   .to_phone("+15550002222").with_text("via entry point").build())
        result = connector.blocking().send_message(message)
        print(json.dumps({
            "module": ratatosk_acme.__file__,
            "class": type(connector).__module__ + ":" + type(connector).__qualname__,
            "ok": result.is_success,
            "remote": result.data.remote_message_id if result.data else None,
            "stored": [m["text"] for m in api.messages.values()],
            "url": str(api.requests[0].url),
        }))
    """
    done = _python(code, _env(acme_site), tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert Path(out["module"]).is_relative_to(acme_site)
    assert out["class"] == "ratatosk_acme:AcmeSmsConnector"
    assert out["ok"] is True and out["remote"] == "am_000001"
    assert out["stored"] == ["via entry point"]
    assert out["url"] == "https://api.acme.test/v1/accounts/acc_test1/messages"


def test_schema_json_loads_back_into_an_equal_schema(acme_site: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ACME / "src"))
    try:
        from ratatosk_acme import ACME_SMS, NOTIFICATIONS
    finally:
        sys.path.remove(str(ACME / "src"))
    done = _ratatosk("schema", "acme/sms", "--json", env=_env(acme_site), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ChannelSchema.from_dict(json.loads(done.stdout)) == ACME_SMS
    preset = _ratatosk("schema", "acme/sms", "--preset", "Notifications", "--json",
                       env=_env(acme_site), cwd=tmp_path)
    assert ChannelSchema.from_dict(json.loads(preset.stdout)) == NOTIFICATIONS


def test_plugin_command_from_the_entry_point(acme_site: Path, tmp_path: Path) -> None:
    done = _ratatosk("acme", "info", env=_env(acme_site), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"acme {ACME_VERSION}: acme/sms/1.0.0 (default)\n"


def test_environment_switches(acme_site: Path, tmp_path: Path) -> None:
    only = _ratatosk("providers", "--json", env=_env(acme_site, RATATOSK_PLUGINS="acme"),
                     cwd=tmp_path)
    names = [p["name"] for p in json.loads(only.stdout)["providers"]]
    assert names == ["acme"]
    off = _ratatosk("providers", "--json", env=_env(acme_site, RATATOSK_DISABLE_PLUGINS="1"),
                    cwd=tmp_path)
    assert json.loads(off.stdout) == {"providers": [], "failures": []}
    gone = _ratatosk("acme", "info", env=_env(acme_site, RATATOSK_DISABLE_PLUGINS="1"),
                     cwd=tmp_path)
    assert gone.returncode == 2


def test_broken_plugins_are_reported_and_do_not_stop_the_others(
    acme_site: Path, broken_site: Path, tmp_path: Path
) -> None:
    env = _env(acme_site, broken_site)
    imported = _python("import ratatosk; print(ratatosk.__version__)", env, tmp_path)
    assert imported.returncode == 0 and imported.stderr == ""

    done = _ratatosk("providers", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "acme" in [p["name"] for p in data["providers"]]
    failures = {f["name"]: f for f in data["failures"]}
    assert failures["broken"] == {
        "name": "broken", "distribution": "ratatosk-broken",
        "error": "cannot import ratatosk_broken_mod: "
                 "ImportError: ratatosk_broken needs the frobnicator package",
    }
    assert failures["typo"]["distribution"] == "ratatosk-broken"
    assert "registr" in failures["typo"]["error"]

    table = _ratatosk("providers", env=env, cwd=tmp_path)
    assert "Plugins that failed to load:" in table.stdout
    assert "frobnicator" in table.stdout

    code = """
        import ratatosk
        from ratatosk_acme.fake import FakeAcmeApi, ACCOUNT_ID, API_KEY
        api = FakeAcmeApi()
        c = ratatosk.connect("acme/sms", {"AccountId": ACCOUNT_ID, "ApiKey": API_KEY},
                             http_transport=api.transport())
        m = (ratatosk.MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
             .with_text("x").build())
        print(c.blocking().send_message(m).is_success)
        try:
            ratatosk.connect("broken/sms")
        except ratatosk.MessagingError as exc:
            print(exc.error.message)
    """
    sent = _python(code, env, tmp_path)
    assert sent.returncode == 0, sent.stderr
    first, second = sent.stdout.splitlines()
    assert first == "True"
    assert second.startswith("no connector 'broken/sms' is installed; available: ")
    failed = second.split("plugins that failed to load: ")[1].split(", ")
    assert {"broken", "typo"} <= set(failed)
