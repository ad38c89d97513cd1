"""Vonage's segment estimate: text (GSM-7, 160/153) or unicode (70/67), no price before sending,
the same choice of ``type`` as the SMS API connector makes, and the parts' prices after a send."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from ratatosk import Message, MessageBuilder, MessagingErrorCodes
from ratatosk_vonage import VonageSegmentAnalysis, VonageSmsConnector, analyze, is_gsm7

SETTINGS = {"ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42"}
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"


@pytest.mark.parametrize(("text", "kind", "segments", "units"), [
    ("", "text", 1, 0),
    ("a" * 160, "text", 1, 160),
    ("a" * 161, "text", 2, 161),
    ("a" * 306, "text", 2, 306),
    ("a" * 307, "text", 3, 307),
    ("€" * 80, "text", 1, 160),  # extension characters count two septets
    ("€" * 81, "text", 2, 162),
    ("ж" * 70, "unicode", 1, 70),
    ("ж" * 71, "unicode", 2, 71),
    ("ж" * 134, "unicode", 2, 134),
    ("ж" * 135, "unicode", 3, 135),
    ("hello 😜", "unicode", 1, 8),
])
def test_text_or_unicode_and_parts(text: str, kind: str, segments: int, units: int) -> None:
    result = analyze(text)
    assert isinstance(result, VonageSegmentAnalysis)
    assert result.type == kind
    assert result.encoding == ("GSM-7" if kind == "text" else "UCS-2")
    assert result.is_gsm7 is (kind == "text")
    assert result.segments == segments == len(result.parts)
    assert result.units == units
    assert "".join(result.parts) == text == result.text
    assert result.price is None  # Vonage has no price table: cost only after a send


def test_a_part_never_splits_a_cluster_or_an_escape_pair() -> None:
    assert analyze("ж" * 66 + FAMILY).parts == ("ж" * 66, FAMILY)
    assert analyze("a" * 152 + "€b" + "a" * 10).parts[1].startswith("€")


def test_encoding_type_forces_the_type() -> None:
    assert analyze("hello", encoding_type="unicode").type == "unicode"
    assert analyze("a" * 71, encoding_type="unicode").segments == 2
    assert analyze("hello", encoding_type="text").type == "text"
    assert analyze("жж", encoding_type="auto").type == "unicode"
    with pytest.raises(ValueError, match="outside GSM-7"):
        analyze("жж", encoding_type="text")
    with pytest.raises(ValueError, match="encoding_type must be"):
        analyze("hi", encoding_type="binary")
    with pytest.raises(TypeError):
        analyze(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["plain", "€uro [x]", "ümlaut ñ", "naïve", "日本", "😜"])
def test_the_estimate_is_the_type_the_connector_sends(text: str) -> None:
    sent: list[dict[str, list[str]]] = []
    count = analyze(text).segments

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(urllib.parse.parse_qs(request.content.decode("ascii")))
        return httpx.Response(200, json={"message-count": str(count), "messages": [
            {"to": "447700900000", "message-id": f"id-{i}", "status": "0",
             "message-price": "0.0333", "network": "23410"} for i in range(count)]})

    connector = VonageSmsConnector(settings=SETTINGS, http_transport=httpx.MockTransport(handler))
    message = Message.text(text, to="+447700900000", sender="Acme")
    estimate = connector.estimate(message)
    assert estimate.unwrap().type == sent_type(connector, message, sent)
    assert is_gsm7(text) is (estimate.unwrap().type == "text")


def sent_type(connector: VonageSmsConnector, message: Message,
              sent: list[dict[str, list[str]]]) -> str:
    result = connector.blocking().send_message(message)
    assert result.is_success, result.error
    return sent[-1]["type"][0]


def test_the_cost_comes_with_the_answer_part_by_part() -> None:
    text = "a" * 200
    estimate = analyze(text)
    assert estimate.segments == 2

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"message-count": "2", "messages": [
            {"to": "447700900000", "message-id": "id-1", "status": "0",
             "message-price": "0.03330000", "network": "23410"},
            {"to": "447700900000", "message-id": "id-2", "status": "0",
             "message-price": "0.03330000", "network": "23410"}]})

    connector = VonageSmsConnector(settings=SETTINGS, http_transport=httpx.MockTransport(handler))
    result = connector.blocking().send_message(
        Message.text(text, to="+447700900000", sender="Acme")).unwrap()
    assert result.additional_data["message_count"] == estimate.segments
    assert result.additional_data["price"] == "0.06660000"


def test_estimate_errors_are_results() -> None:
    connector = VonageSmsConnector(settings=SETTINGS)
    media = (MessageBuilder().to_phone("+447700900000")
             .with_media("https://example.com/a.png").build())
    error = connector.estimate(media).error
    assert error is not None and error.code == MessagingErrorCodes.UNSUPPORTED_CONTENT_TYPE
    forced = Message.text("жж", to="+447700900000", sender="Acme",
                          properties={"EncodingType": "text"})
    error = connector.estimate(forced).error
    assert error is not None and error.code == MessagingErrorCodes.INVALID_MESSAGE
    assert error.issues[0].field == "properties.EncodingType"
    with pytest.raises(TypeError):
        connector.estimate("hello")  # type: ignore[arg-type]
