"""pytest plugin (entry point ``pytest11``): fixtures for testing your own code against the sandbox.

Installed with ``ratatosk-messaging-twilio``; nothing to configure. Fixtures:

``twilio_sandbox``
    A running :class:`ratatosk_twilio.sandbox.TwilioSandbox` on 127.0.0.1 (a fresh one per test),
    with status progression in ``immediate`` mode so callbacks arrive at once.
``twilio_settings``
    :class:`ratatosk.ConnectionSettings` for that sandbox (AccountSid, AuthToken, BaseUrl).
``twilio_connector``
    A ready :class:`ratatosk_twilio.TwilioSmsConnector` (async) talking to the sandbox; shut down
    after the test. An async fixture made with ``pytest_asyncio.fixture``: it works in
    pytest-asyncio's default *strict* mode (mark your test ``@pytest.mark.asyncio``) and in
    ``asyncio_mode = auto``.
``twilio_blocking_connector``
    The same connector's blocking twin, for code without an event loop.

Example::

    def test_welcome_sms(twilio_blocking_connector, twilio_sandbox):
        my_app.send_welcome(twilio_blocking_connector, "+15550002222")
        assert twilio_sandbox.messages[0].body == "Welcome!"

Nothing of the provider is imported until a fixture is used, so the plugin costs nothing in test
suites that do not use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

try:  # strict mode only runs async fixtures declared through pytest-asyncio
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio no async test runs anyway
    _async_fixture = pytest.fixture  # type: ignore[assignment]

if TYPE_CHECKING:
    from ratatosk import BlockingConnector, ConnectionSettings

    from . import TwilioSmsConnector
    from .sandbox import TwilioSandbox


@pytest.fixture
def twilio_sandbox() -> Iterator[TwilioSandbox]:
    """A Twilio-compatible sandbox server on 127.0.0.1, fresh for each test."""
    from .sandbox import TwilioSandbox

    with TwilioSandbox(progression="immediate") as sandbox:
        yield sandbox


@pytest.fixture
def twilio_settings(twilio_sandbox: TwilioSandbox) -> ConnectionSettings:
    """Connection settings that point a Twilio connector at the sandbox."""
    from ratatosk import ConnectionSettings

    return (
        ConnectionSettings()
        .set_parameter("AccountSid", twilio_sandbox.account_sid)
        .set_parameter("AuthToken", twilio_sandbox.auth_token)
        .set_parameter("BaseUrl", twilio_sandbox.base_url)
    )


@_async_fixture
async def twilio_connector(
    twilio_settings: ConnectionSettings,
) -> AsyncIterator[TwilioSmsConnector]:
    """An initialized async Twilio SMS connector talking to the sandbox."""
    from . import TwilioChannelSchemas, TwilioSmsConnector

    connector = TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, twilio_settings)
    _check(await connector.initialize())
    try:
        yield connector
    finally:
        await connector.shutdown()


@pytest.fixture
def twilio_blocking_connector(twilio_settings: ConnectionSettings) -> Iterator[BlockingConnector]:
    """The blocking twin of a Twilio SMS connector talking to the sandbox."""
    from . import TwilioChannelSchemas, TwilioSmsConnector

    blocking = TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, twilio_settings).blocking()
    _check(blocking.initialize())
    try:
        yield blocking
    finally:
        blocking.shutdown()


def _check(result: Any) -> None:
    if not result.is_success:
        raise RuntimeError(f"could not initialize the sandbox connector: {result.error}")
