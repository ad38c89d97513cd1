"""The contrib pytest plugin, exercised the way a user's test suite uses it (pytester)."""

from __future__ import annotations

import pytest

USER_TESTS = """
import asyncio
from ratatosk import MessageBuilder, MessageStatus


def test_blocking(twilio_blocking_connector, twilio_sandbox):
    builder = MessageBuilder().from_phone("+15005550006").to_phone("+15550002222")
    message = builder.with_text("Welcome!").build()
    result = twilio_blocking_connector.send_message(message)
    assert result.is_success, result.error
    assert result.data.remote_message_id.startswith("SM")
    assert [m.body for m in twilio_sandbox.messages] == ["Welcome!"]


async def test_async(twilio_connector, twilio_sandbox):
    builder = MessageBuilder().from_phone("+15005550006").to_phone("+15550003333")
    message = builder.with_text("Hi").build()
    result = await twilio_connector.send_message(message)
    assert result.is_success, result.error
    status = await twilio_connector.get_message_status(result.data.remote_message_id)
    assert status.unwrap().status is MessageStatus.DELIVERED


def test_settings_point_at_sandbox(twilio_settings, twilio_sandbox):
    assert twilio_settings.get_parameter("BaseUrl") == twilio_sandbox.base_url
    assert twilio_sandbox.auth_token not in repr(twilio_settings)
"""


def test_fixtures_work_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_is_registered_through_its_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="pytest11")}
    assert "ratatosk_contrib.pytest_plugin" in names
