"""What a cold start loads: `import ratatosk` and `ratatosk providers`, in fresh interpreters.

Asserted on ``sys.modules`` (never on timings): importing the package loads no HTTP client, no
entry points and no provider; listing the providers loads the plugin's connector classes but not
the HTTP clients, the terminal renderer, nor what only sending, webhooks or estimates need.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# printed without importing anything more (json would count as loaded)
_REPORT = "import sys; print(' '.join(sorted(sys.modules)))"


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RATATOSK_DISABLE_PLUGINS", "RATATOSK_PLUGINS", "NO_COLOR",
                        "RATATOSK_PLAIN")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _modules_after(code: str) -> tuple[set[str], str]:
    """The modules loaded by ``code`` in a fresh interpreter, and what it printed before."""
    done = subprocess.run([sys.executable, "-c", f"{code}\n{_REPORT}"], capture_output=True,
                          text=True, env=_environment(), timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    *printed, report = done.stdout.strip().splitlines()
    return set(report.split(" ")), "\n".join(printed)


def _loaded(modules: set[str], *roots: str) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in roots or m in roots)


@pytest.fixture(scope="module")
def after_import() -> set[str]:
    modules, _ = _modules_after("import ratatosk")
    return modules


@pytest.fixture(scope="module")
def after_providers() -> tuple[set[str], str]:
    return _modules_after("from ratatosk._cli import main\nassert main(['providers']) == 0")


def test_import_ratatosk_loads_no_http_client(after_import: set[str]) -> None:
    assert "ratatosk" in after_import
    assert _loaded(after_import, "httpx", "httpcore", "aiohttp", "anyio", "h11") == []
    assert _loaded(after_import, "asyncio") == []


def test_import_ratatosk_loads_no_entry_points_and_no_provider(after_import: set[str]) -> None:
    assert _loaded(after_import, "importlib_metadata", "importlib.metadata") == []
    assert _loaded(after_import, "ratatosk_twilio") == []
    assert "ratatosk.plugins" not in after_import
    assert "ratatosk.connector" not in after_import


def test_import_ratatosk_loads_no_command_line(after_import: set[str]) -> None:
    assert "ratatosk._cli" not in after_import


def test_providers_lists_twilio(after_providers: tuple[set[str], str]) -> None:
    modules, printed = after_providers
    assert "twilio/sms" in printed and "twilio/whatsapp" in printed
    assert {"ratatosk_twilio._plugin", "ratatosk_twilio._connector"} <= modules


def test_providers_loads_no_http_client_and_no_rich(after_providers: tuple[set[str], str]) -> None:
    modules, _ = after_providers
    assert _loaded(modules, "httpx", "httpcore", "aiohttp", "anyio", "h11") == []
    assert _loaded(modules, "rich") == []
    assert _loaded(modules, "cattrs") == []  # only --json needs it
    assert _loaded(modules, "asyncio") == []  # only async sends need it


def test_providers_reads_entry_points_with_the_standard_library(
    after_providers: tuple[set[str], str],
) -> None:
    modules, _ = after_providers
    assert "importlib.metadata" in modules
    assert _loaded(modules, "importlib_metadata") == []


def test_providers_loads_only_what_registering_needs(after_providers: tuple[set[str], str]) -> None:
    modules, _ = after_providers
    # the segment calculator and its tables: on the first estimate()
    assert "ratatosk_twilio._segments" not in modules
    assert "ratatosk_twilio._tables" not in modules
    # signatures, the error catalogue and the de-duplication store: on the first webhook
    assert "ratatosk_twilio.signature" not in modules
    assert "ratatosk_twilio._error_catalog" not in modules
    assert "ratatosk._dedup" not in modules
    # the sandbox and the demo: only their commands load them
    assert _loaded(modules, "ratatosk_twilio.sandbox") == []
    assert "ratatosk_twilio._demo" not in modules
    assert "ratatosk._cli_send" not in modules


def test_lazy_parts_load_when_used() -> None:
    modules, printed = _modules_after(
        "import asyncio\n"
        "from ratatosk import MessageBuilder\n"
        "from ratatosk_twilio import TwilioSmsConnector\n"
        "c = TwilioSmsConnector(settings={'AccountSid': 'AC' + '0' * 32, 'AuthToken': 't'})\n"
        "m = MessageBuilder().from_phone('+15550001111').to_phone('+15550002222')"
        ".with_text('hi').build()\n"
        "print(asyncio.run(c.initialize()).is_success, c.estimate(m).data.segments)\n"
    )
    assert printed == "True 1"
    assert {"ratatosk_twilio._segments", "ratatosk_twilio._tables"} <= modules
