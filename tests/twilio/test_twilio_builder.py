"""TwilioMessageBuilder: the helpers for Twilio-only properties, behind the Twilio provider."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

from ratatosk import MessageBuilder
from ratatosk_twilio import TwilioMessageBuilder, TwilioSmsConnector

SID = "AC" + "0" * 32
MG = "MG" + "1" * 32


def test_seed_custom_validity_with_the_twilio_builder() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the Twilio builder's helpers are not deprecated
        message = (TwilioMessageBuilder()
                   .from_phone("+15550001111")
                   .to_phone("+15550002222")
                   .with_text("Time-sensitive message")
                   .with_validity_period(300)
                   .with_max_price(0.01)
                   .build())
    assert message.properties == {"ValidityPeriod": 300, "MaxPrice": Decimal("0.01")}
    # 0.01 as a float is not exactly 0.01: the builder keeps the decimal the user wrote
    assert str(message.properties["MaxPrice"]) == "0.01"


@pytest.mark.parametrize("price", [0.01, "0.01", Decimal("0.01")])
def test_max_price_accepts_float_text_and_decimal(price: float | str | Decimal) -> None:
    message = TwilioMessageBuilder().with_max_price(price).build()
    assert message.properties["MaxPrice"] == Decimal("0.01")


def test_twilio_helpers_chain_with_the_core_ones() -> None:
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    builder = TwilioMessageBuilder().to_phone("+15550002222").with_text("later")
    assert isinstance(builder, MessageBuilder)
    message = (builder.with_provide_callback().with_smart_encoded(False)
               .with_send_at(when).build())
    assert message.properties == {"ProvideCallback": True, "SmartEncoded": False,
                                  "SendAt": when, "ScheduleType": "fixed"}
    kept = (TwilioMessageBuilder().with_property("ScheduleType", "other")
            .with_send_at(when).build())
    assert kept.properties["ScheduleType"] == "other"


@pytest.mark.parametrize("builder", [MessageBuilder, TwilioMessageBuilder])
def test_both_builders_schedule_the_same_request(builder: type[MessageBuilder]) -> None:
    """The core's neutral with_send_at sets only SendAt; the Twilio connector adds
    ScheduleType=fixed, so both builders give Twilio the same request."""
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        from urllib.parse import parse_qs

        seen.append(parse_qs(request.content.decode()))
        return httpx.Response(201, json={"sid": "SM" + "2" * 32, "status": "scheduled"})

    connector = TwilioSmsConnector(
        None, {"AccountSid": SID, "AuthToken": "t", "MessagingServiceSid": MG},
        http_transport=httpx.MockTransport(handler))
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    result = connector.blocking().send_message(
        builder().to_phone("+15550002222").with_text("later").with_send_at(when).build())
    assert result.is_success, result.error
    assert seen[0]["ScheduleType"] == ["fixed"]
    assert seen[0]["SendAt"] == ["2030-01-01T00:00:00Z"]
