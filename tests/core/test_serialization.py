"""Plain-JSON (un)structuring: messages, results, status updates, errors, across JSON text."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ratatosk
from ratatosk import (
    BatchSendResult,
    BinaryContent,
    ButtonContent,
    Content,
    Endpoint,
    EndpointType,
    Err,
    ErrorInfo,
    HtmlContent,
    JsonContent,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageBuilder,
    MessageStatus,
    MessagingError,
    MessagingErrorCodes,
    MultipartContent,
    Ok,
    ReceiveResult,
    Result,
    SendResult,
    StatusUpdate,
    TemplateContent,
    TextContent,
    ValidationIssue,
)
from ratatosk._serialization import converter, structure, unstructure

T0 = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)


def through_json(value: Any, cls: Any) -> Any:
    """unstructure -> JSON text -> structure, as a task queue would carry it."""
    text = json.dumps(unstructure(value), allow_nan=False)
    return structure(json.loads(text), cls)


def test_lazy_exports_are_these_functions() -> None:
    exported = {name: getattr(ratatosk, name) for name in ("unstructure", "structure", "converter")}
    assert exported == {"unstructure": unstructure, "structure": structure, "converter": converter}


def test_text_message_shape() -> None:
    message = (MessageBuilder().with_id("sms-1").from_phone("+15550001111")
               .to_phone("+15550002222").with_text("Hello").build())
    assert unstructure(message) == {
        "id": "sms-1",
        "sender": {"type": "phone_number", "address": "+15550001111"},
        "receiver": {"type": "phone_number", "address": "+15550002222"},
        "content": {"type": "plain_text", "text": "Hello"},
        "properties": {},
    }
    assert through_json(message, Message) == message


def test_seed_examples_round_trip() -> None:
    mms = (MessageBuilder().with_id("mms-1").from_phone("+15550001111").to_phone("+15550002222")
           .with_content(MediaContent(MediaType.IMAGE, "photo.jpg",
                                      "https://example.com/photo.jpg")).build())
    custom = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
              .with_text("Time-sensitive message").with_validity_period(300)
              .with_property("MaxPrice", Decimal("0.01")).build())
    assert through_json(mms, Message) == mms
    again = through_json(custom, Message)
    assert again == custom
    assert again.properties["MaxPrice"] == Decimal("0.01")
    assert isinstance(again.properties["MaxPrice"], Decimal)
    assert unstructure(custom)["properties"] == {"ValidityPeriod": 300,
                                                 "MaxPrice": {"$decimal": "0.01"}}


def test_every_content_class_round_trips_with_its_tag() -> None:
    contents: list[Content] = [
        TextContent("hi"),
        HtmlContent("<b>hi</b>", "hi"),
        MediaContent(MediaType.DOCUMENT, "a.pdf", None, b"%PDF\x00\xff", "application/pdf"),
        TemplateContent("HX123", {"1": "Ann", "2": Decimal("9.50")}),
        LocationContent(59.91, 10.75, "Oslo", "Karl Johans gate"),
        JsonContent({"a": [1, 2.5, None, True], "b": {"c": "d"}}),
        BinaryContent(b"\x00\x01\x02", "application/x-thing"),
        ButtonContent("Yes", "YES_PAYLOAD"),
        MultipartContent([TextContent("a"), MultipartContent([TextContent("b"),
                          MediaContent(MediaType.IMAGE, "x.png", "https://e.com/x.png")])]),
    ]
    for content in contents:
        message = Message(id="m", receiver=Endpoint.phone("+1"), content=content)
        data = unstructure(message)
        assert data["content"]["type"] == content.kind.value
        assert through_json(message, Message) == message
    nested = unstructure(Message(content=contents[-1]))["content"]
    assert [p["type"] for p in nested["parts"]] == ["plain_text", "multipart"]
    assert [p["type"] for p in nested["parts"][1]["parts"]] == ["plain_text", "media"]


def test_bytes_are_base64() -> None:
    data = unstructure(Message(content=BinaryContent(b"\xff\x00")))
    assert data["content"]["data"] == "/wA="


def test_property_values_keep_their_types() -> None:
    properties = {
        "price": Decimal("0.0100"),
        "when": T0,
        "naive": datetime(2024, 1, 2, 3, 4, 5),
        "offset": datetime(2024, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        "day": date(2024, 2, 29),
        "raw": b"\x00bytes",
        "pair": (1, "two", Decimal("3")),
        "list": [1, [2, {"x": Decimal("4")}]],
        "looks_tagged": {"$decimal": "not really"},
        "nested_tag": {"inner": {"$tuple": [1]}},
        "nothing": None,
        "flag": False,
        "big": 2**70,
        "inf": float("inf"),
    }
    message = Message(id="p", properties=properties)
    data = unstructure(message)
    assert data["properties"]["price"] == {"$decimal": "0.0100"}
    assert data["properties"]["when"] == {"$datetime": "2024-05-01T12:30:15.123456+00:00"}
    assert data["properties"]["day"] == {"$date": "2024-02-29"}
    assert data["properties"]["pair"] == {"$tuple": [1, "two", {"$decimal": "3"}]}
    assert data["properties"]["nested_tag"] == {"inner": {"$dict": {"$tuple": [1]}}}
    back = through_json(message, Message)
    assert back == message
    for name, value in properties.items():
        assert type(back.properties[name]) is type(value), name
    assert str(back.properties["price"]) == "0.0100"
    assert back.properties["offset"].utcoffset() == timedelta(hours=-5, minutes=-30)


def test_str_enum_values_in_free_form_data_are_written_as_plain_values() -> None:
    data = unstructure(Message(properties={"status": MessageStatus.SENT}))
    assert data["properties"]["status"] == "sent"
    assert type(data["properties"]["status"]) is str


@pytest.mark.parametrize(
    "bad",
    [object(), {1, 2}, {1: "non-text key"}, [object()], {"deep": {"er": {3.5: 1}}}],
)
def test_unserializable_property_fails_with_serialization_error(bad: Any) -> None:
    with pytest.raises(MessagingError) as info:
        unstructure(Message(properties={"bad": bad}))
    assert info.value.code == MessagingErrorCodes.MESSAGE_SERIALIZATION_FAILED
    assert info.value.error.domain == "messaging"


def test_results_round_trip_with_their_data_type() -> None:
    sent = SendResult("m1", "SM123", MessageStatus.QUEUED, T0, "queued",
                      {"price": Decimal("-0.0075"), "segments": 2})
    ok: Result[SendResult] = Ok(sent)
    data = unstructure(ok)
    assert data["error"] is None and data["data"]["status"] == "queued"
    assert data["data"]["timestamp"] == "2024-05-01T12:30:15.123456+00:00"
    assert through_json(ok, Result[SendResult]) == ok
    none_result: Result[None] = Ok(None)
    assert through_json(none_result, Result[None]) == none_result
    update = StatusUpdate("SM123", MessageStatus.DELIVERED, "delivered", T0, "m1", None,
                          Decimal("-0.0075"), "USD", 2, T0, T0, T0, {"x": [1]})
    assert unstructure(update)["price"] == "-0.0075"
    assert through_json(Ok(update), Result[StatusUpdate]) == Ok(update)
    assert unstructure(update)["is_duplicate"] is False
    retried = StatusUpdate("SM123", MessageStatus.DELIVERED, timestamp=T0, is_duplicate=True)
    assert unstructure(retried)["is_duplicate"] is True
    assert through_json(retried, StatusUpdate) == retried


def test_error_results_round_trip_with_issues_and_details() -> None:
    error = ErrorInfo(
        code=MessagingErrorCodes.INVALID_MESSAGE,
        message="bad",
        provider_code="21211",
        retryable=True,
        retry_after=1.5,
        outcome_unknown=True,
        issues=[ValidationIssue("receiver", "missing", "required")],
        details={"more_info": "https://example.com/21211", "attempts": 3},
    )
    failed: Result[SendResult] = Err(error)
    again = through_json(failed, Result[SendResult])
    assert again == failed
    assert again.error is not None and again.error.issues[0].code == "required"
    assert through_json(error, ErrorInfo) == error
    with pytest.raises(MessagingError) as info:
        again.unwrap()
    assert info.value.code == MessagingErrorCodes.INVALID_MESSAGE


def test_unparameterized_result_reads_data_as_plain_json() -> None:
    result = Ok({"a": Decimal("1.5")})
    assert structure(json.loads(json.dumps(unstructure(result))), Result) == result


def test_batch_and_receive_results_round_trip() -> None:
    batch = [
        BatchSendResult(0, "m0", Ok(SendResult("m0", "SM0", MessageStatus.SENT, T0))),
        BatchSendResult(1, "m1", Err(ErrorInfo("RATE_LIMITED", "slow down",
                                                        retryable=True))),
    ]
    for item in batch:
        assert through_json(item, BatchSendResult) == item
    messages = [
        MessageBuilder().with_id("in-1").from_phone("+1").to_phone("+2").with_text("hi").build(),
        MessageBuilder().with_id("in-2").from_phone("+1").to_phone("+2")
        .with_media("https://example.com/a.jpg").build(),
    ]
    received = ReceiveResult(messages, False, {"AccountSid": "AC1"})
    assert through_json(received, ReceiveResult) == received
    assert through_json(Ok(received), Result[ReceiveResult]) == Ok(received)


def test_endpoint_round_trip() -> None:
    for endpoint_type in EndpointType:
        endpoint = Endpoint(endpoint_type, "addr")
        assert unstructure(endpoint) == {"type": endpoint_type.value, "address": "addr"}
        assert through_json(endpoint, Endpoint) == endpoint


def test_datetimes_with_z_suffix_are_read() -> None:
    data = unstructure(SendResult("m", None, MessageStatus.SENT, T0))
    data["timestamp"] = "2024-05-01T12:30:15.123456Z"
    assert structure(data, SendResult).timestamp == T0


GOOD = unstructure(
    MessageBuilder().with_id("m").from_phone("+1").to_phone("+2").with_text("x")
    .with_property("MaxPrice", Decimal("0.5")).build()
)


def corrupt(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(GOOD))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ("just text", "Message"),
        ([1, 2], "Message"),
        (corrupt(("id",), 5), "$.id"),
        (corrupt(("sender",), "+1"), "$.sender"),
        (corrupt(("sender", "type"), "carrier_pigeon"), "$.sender.type"),
        (corrupt(("receiver", "address"), None), "$.receiver.address"),
        (corrupt(("content",), {"text": "no tag"}), "$.content"),
        (corrupt(("content",), {"type": "hologram"}), "$.content"),
        (corrupt(("content",), {"type": "location", "latitude": "north", "longitude": 1}),
         "$.content.latitude"),
        (corrupt(("content",), {"type": "binary", "data": "***not base64***"}),
         "$.content.data"),
        (corrupt(("content",), {"type": "multipart", "parts": [{"type": "plain_text"}]}),
         "$.content.parts[0].text"),
        (corrupt(("properties",), ["a", "b"]), "$.properties"),
        (corrupt(("properties", "MaxPrice"), {"$decimal": "cheap"}), "$.properties"),
        (corrupt(("properties", "MaxPrice"), {"$datetime": "noon"}), "$.properties"),
        (corrupt(("properties", "MaxPrice"), {"$tuple": "x"}), "$.properties"),
    ],
)
def test_corrupt_payloads_raise_deserialization_errors(payload: Any, where: str) -> None:
    with pytest.raises(MessagingError) as info:
        structure(payload, Message)
    assert info.value.code == MessagingErrorCodes.MESSAGE_DESERIALIZATION_FAILED
    assert info.value.error.domain == "messaging"
    assert where in str(info.value)


def test_corrupt_results() -> None:
    for payload in ["x", {}, {"data": {"message_id": 1}, "error": None},
                    {"data": None, "error": {"code": "X"}},
                    {"data": {"message_id": "m", "remote_message_id": None, "status": "lost"},
                     "error": None}]:
        with pytest.raises(MessagingError) as info:
            structure(payload, Result[SendResult])
        assert info.value.code == MessagingErrorCodes.MESSAGE_DESERIALIZATION_FAILED


def test_wrong_scalar_types_are_not_coerced() -> None:
    payload = {"index": "0", "message_id": "m", "result": {"data": None, "error": None}}
    with pytest.raises(MessagingError, match=r"\$\.index"):
        structure(payload, BatchSendResult)
    update = unstructure(StatusUpdate("SM1", MessageStatus.SENT, timestamp=T0))
    update["segments"] = True
    with pytest.raises(MessagingError, match=r"\$\.segments"):
        structure(update, StatusUpdate)


def test_error_messages_do_not_repeat_payload_values() -> None:
    payload = corrupt(("content",), {"type": "location", "latitude": "SECRET-ish", "longitude": 1})
    with pytest.raises(MessagingError) as info:
        structure(payload, Message)
    assert "SECRET-ish" not in str(info.value)


# -- property-based round trips ---------------------------------------------------------------

text = st.text(max_size=20)
keys = text | st.sampled_from(["$decimal", "$datetime", "$tuple", "$dict", "$bytes", "type"])
offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    text,
)
values = st.recursive(
    json_scalars
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.none() | offsets)
    | st.dates()
    | st.binary(max_size=16),
    lambda children: st.lists(children, max_size=3)
    | st.lists(children, max_size=3).map(tuple)
    | st.dictionaries(keys, children, max_size=3),
    max_leaves=8,
)
endpoints = st.builds(Endpoint, st.sampled_from(EndpointType), text)
leaf_contents = st.one_of(
    st.builds(TextContent, text),
    st.builds(HtmlContent, text, st.none() | text),
    st.builds(MediaContent, st.sampled_from(MediaType), st.none() | text, st.none() | text,
              st.none() | st.binary(max_size=16), st.none() | text),
    st.builds(TemplateContent, text, st.dictionaries(text, values, max_size=3)),
    st.builds(LocationContent, st.floats(-90, 90), st.floats(-180, 180), st.none() | text,
              st.none() | text),
    st.builds(JsonContent, values),
    st.builds(BinaryContent, st.binary(max_size=16), text),
    st.builds(ButtonContent, text, st.none() | text),
)
contents = st.recursive(
    leaf_contents,
    lambda children: st.lists(children, max_size=3).map(MultipartContent),
    max_leaves=5,
)
messages = st.builds(
    Message,
    id=text,
    sender=st.none() | endpoints,
    receiver=st.none() | endpoints,
    content=st.none() | contents,
    properties=st.dictionaries(keys, values, max_size=4),
)


@settings(max_examples=150)
@given(messages)
def test_any_message_round_trips_through_json(message: Message) -> None:
    data = unstructure(message)
    assert json.loads(json.dumps(data)) == data  # plain JSON data, nothing else
    assert structure(json.loads(json.dumps(data)), Message) == message


@given(st.dictionaries(keys, values, max_size=4))
def test_any_additional_data_round_trips(extra: dict[str, Any]) -> None:
    result = Ok(SendResult("m", "r", MessageStatus.SENT, T0, None, extra))
    assert through_json(result, Result[SendResult]) == result
