"""The send and receive paths log through standard logging: ids and codes as fields, no secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from ratatosk import Message, MessageSource, MessageStatus
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox
from ratatosk_twilio.signature import compute_signature

LOGGER = "ratatosk.connector._base"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


def _connector(sandbox: TwilioSandbox, **extra: str) -> TwilioSmsConnector:
    settings = {"AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
                "BaseUrl": sandbox.base_url, **extra}
    return TwilioSmsConnector(settings=settings)


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def _no_secret(records: list[logging.LogRecord], secret: str) -> None:
    for record in records:
        assert secret not in record.getMessage()
        assert secret not in repr(vars(record))


def test_a_sent_message_is_logged_at_debug_with_its_ids(
    sandbox: TwilioSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ratatosk")
    message = Message.text("hi", to="+15550002222", sender="+15005550006")
    result = _connector(sandbox).blocking().send_message(message)
    assert result.is_success
    sent = [r for r in _records(caplog) if getattr(r, "remote_message_id", None)]
    assert len(sent) == 1
    assert sent[0].levelno == logging.DEBUG
    assert sent[0].message_id == message.id  # type: ignore[attr-defined]
    assert sent[0].remote_message_id == result.data.remote_message_id  # type: ignore[attr-defined]
    assert sent[0].status == str(MessageStatus.QUEUED)  # type: ignore[attr-defined]
    _no_secret(_records(caplog), sandbox.auth_token)


def test_a_refused_message_is_logged_at_info_with_the_provider_code(
    sandbox: TwilioSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ratatosk")
    message = Message.text("hi", to="+15005550001", sender="+15005550006")  # 21211
    result = _connector(sandbox).blocking().send_message(message)
    assert not result.is_success
    failed = [r for r in _records(caplog) if getattr(r, "error_code", None)]
    assert [r.levelno for r in failed] == [logging.INFO]
    assert failed[0].message_id == message.id  # type: ignore[attr-defined]
    assert failed[0].error_code == "INVALID_RECIPIENT"  # type: ignore[attr-defined]
    assert failed[0].provider_code == "21211"  # type: ignore[attr-defined]
    assert failed[0].outcome_unknown is False  # type: ignore[attr-defined]
    _no_secret(_records(caplog), sandbox.auth_token)


def test_a_refused_webhook_is_logged_with_the_url_and_never_the_token(
    sandbox: TwilioSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ratatosk")
    url = "https://example.com/twilio"
    connector = _connector(sandbox, WebhookUrl=url)
    form = {"MessageSid": "SM" + "a" * 32, "From": "+15550002222", "To": "+15550001111",
            "Body": "hello", "AccountSid": sandbox.account_sid}
    good = compute_signature(sandbox.auth_token, url, form)
    accepted = connector.blocking().receive_messages(
        MessageSource.url_post(urlencode(form), url=url, headers={"X-Twilio-Signature": good}))
    assert accepted.is_success
    received = [r for r in _records(caplog) if getattr(r, "message_id", None)]
    assert [r.message_id for r in received] == [accepted.data.messages[0].id]  # type: ignore[attr-defined]
    refused = connector.blocking().receive_messages(
        MessageSource.url_post(urlencode(form), url=url, headers={"X-Twilio-Signature": "bad"}))
    assert not refused.is_success
    warnings = [r for r in _records(caplog) if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].error_code == "INVALID_WEBHOOK_SIGNATURE"  # type: ignore[attr-defined]
    assert warnings[0].url == url  # type: ignore[attr-defined]
    _no_secret(_records(caplog), sandbox.auth_token)
