"""Numeric webhook fields accept ASCII digits only: '¹' or '٣' is bad data, never a crash.

str.isdigit() is true for superscripts such as '¹', which int() rejects; hypothesis found this in
the inbound parser (NumMedia), and the same check appeared in several places.
"""

from __future__ import annotations

import pytest

from ratatosk import MessageSource, MessagingErrorCodes
from ratatosk.provider import parse_retry_after
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector
from ratatosk_twilio.signature import compute_signature

TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT = "AC" + "0" * 32
URL = "https://example.com/twilio"


def _connector() -> TwilioSmsConnector:
    return TwilioSmsConnector(
        TwilioChannelSchemas.TWILIO_SMS,
        f"AccountSid={ACCOUNT};AuthToken={TOKEN};WebhookUrl={URL}",
    )


def _signed(params: dict[str, str]) -> MessageSource:
    from urllib.parse import urlencode

    signature = compute_signature(TOKEN, URL, params)
    return MessageSource.url_post(urlencode(params), url=URL,
                                  headers={"X-Twilio-Signature": signature})


@pytest.mark.parametrize("value", ["¹", "٣", "1²", "\U0001d7d9"])
async def test_non_ascii_digits_in_num_media_are_invalid_data(value: str) -> None:
    source = _signed({"MessageSid": "SM" + "1" * 32, "AccountSid": ACCOUNT,
                      "From": "+15550001111", "To": "+15550002222", "Body": "hi",
                      "NumMedia": value})
    result = await _connector().receive_messages(source)
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_WEBHOOK_DATA


@pytest.mark.parametrize("field", ["ErrorCode", "NumSegments"])
async def test_non_ascii_digits_in_status_fields_never_crash(field: str) -> None:
    source = _signed({"MessageSid": "SM" + "2" * 32, "AccountSid": ACCOUNT,
                      "MessageStatus": "failed", field: "³"})
    result = await _connector().receive_message_status(source)
    # an odd optional field is kept as sent, or the callback is rejected as data — never a crash
    if result.error is not None:
        assert result.error.code == MessagingErrorCodes.INVALID_WEBHOOK_DATA
    else:
        assert result.data is not None


def test_retry_after_ignores_non_ascii_digits() -> None:
    assert parse_retry_after("²") is None
    assert parse_retry_after("3") == 3.0
