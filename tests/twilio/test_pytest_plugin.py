"""ratatosk-twilio's pytest plugin, exercised the way a user's test suite uses it (pytester)."""

from __future__ import annotations

import pytest

USER_TESTS = """
import asyncio

import pytest

from ratatosk import MessageBuilder, MessageStatus


def test_blocking(twilio_blocking_connector, twilio_sandbox):
    builder = MessageBuilder().from_phone("+15005550006").to_phone("+15550002222")
    message = builder.with_text("Welcome!").build()
    result = twilio_blocking_connector.send_message(message)
    assert result.is_success, result.error
    assert result.data.remote_message_id.startswith("SM")
    assert [m.body for m in twilio_sandbox.messages] == ["Welcome!"]


@pytest.mark.asyncio
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


@pytest.mark.parametrize("ini", [
    "[pytest]\n",  # pytest-asyncio's default: strict mode
    "[pytest]\nasyncio_mode = strict\n",
    "[pytest]\nasyncio_mode = auto\n",
], ids=["default", "strict", "auto"])
def test_fixtures_work_in_a_users_suite(pytester: pytest.Pytester, ini: str) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeini(ini + "asyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_is_registered_through_its_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("ratatosk-twilio") == "ratatosk_twilio.pytest_plugin"
    # contrib is provider-neutral: it brings no Twilio fixtures
    assert not any(value.startswith("ratatosk_contrib") for value in names.values())
