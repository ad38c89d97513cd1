"""The sandbox's Messages API: resources, validation, magic numbers, lists, auth and limits.

Every JSON answer is checked against the OpenAPI extract of Twilio's API (with all properties
required and no others allowed), so the sandbox answers exactly the shapes clients parse.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from reference_data import reference_file

from ratatosk_twilio._segments import analyze
from ratatosk_twilio.sandbox import MAGIC_FROM, MAGIC_TO, POOL_NUMBER, TwilioSandbox

jsonschema: Any = pytest.importorskip("jsonschema")

SPEC = reference_file("twilio_messages_openapi.json")
GOOD_FROM = "+15005550006"
TO = "+15551230001"
MG = "MG" + "a" * 32
RFC_2822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} \+0000"
)


# schemas ------------------------------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: ``nullable`` becomes a null type; objects with properties
    require all of them and allow no others (the sandbox must answer every field, exactly)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k not in ("nullable", "x-twilio")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("type") == "object" and "properties" in out:
        out["required"] = sorted(out["properties"])
        out["additionalProperties"] = False
    return out


def _load_spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.fail(f"the Twilio OpenAPI extract (reference data) is missing: {SPEC}")
    spec: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return spec


_SPEC = _load_spec()
_COMPONENTS = _strict(_SPEC["components"])
_FORMATS = jsonschema.FormatChecker(formats=())


def _is_rfc2822(value: object) -> bool:
    return not isinstance(value, str) or RFC_2822.fullmatch(value) is not None


_FORMATS.checks("date-time-rfc-2822")(_is_rfc2822)


def _response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    operation = _SPEC["paths"][path][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return {**_strict(schema), "components": _COMPONENTS}


def _validate(instance: object, schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(schema, format_checker=_FORMATS).validate(instance)


MESSAGE_SCHEMA = {"$ref": "#/components/schemas/api.v2010.account.message",
                  "components": _COMPONENTS}
MEDIA_SCHEMA = {"$ref": "#/components/schemas/api.v2010.account.message.media",
                "components": _COMPONENTS}
LIST_SCHEMA = _response_schema("/2010-04-01/Accounts/{AccountSid}/Messages.json", "get", "200")
MEDIA_LIST_SCHEMA = _response_schema(
    "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json", "get", "200"
)
ERROR_KEYS = {"code", "message", "more_info", "status"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_schemas_are_strict() -> None:
    # Guard the guard: a message missing a field or carrying an extra one must fail.
    good: dict[str, object] = dict.fromkeys(
        _COMPONENTS["schemas"]["api.v2010.account.message"]["properties"]
    )
    good.update(direction="outbound-api", status="queued")
    _validate(good, MESSAGE_SCHEMA)
    missing = dict(good)
    del missing["price"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(missing, MESSAGE_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        _validate({**good, "extra": 1}, MESSAGE_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        _validate({**good, "date_created": "2026-01-01T00:00:00Z"}, MESSAGE_SCHEMA)


# fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


@pytest.fixture
def client(sandbox: TwilioSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.base_url, auth=(sandbox.account_sid, sandbox.auth_token), timeout=5
    ) as c:
        yield c


def messages_path(sandbox: TwilioSandbox) -> str:
    return f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"


def message_path(sandbox: TwilioSandbox, sid: str, suffix: str = ".json") -> str:
    return f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{sid}{suffix}"


def create(
    client: httpx.Client, sandbox: TwilioSandbox, data: Any = None, **params: Any
) -> httpx.Response:
    form = data if data is not None else {"To": TO, "From": GOOD_FROM, "Body": "Hello", **params}
    if isinstance(form, list):  # repeated names (MediaUrl)
        return client.post(messages_path(sandbox), content=urlencode(form), headers=FORM)
    return client.post(messages_path(sandbox), data=form)


def created(client: httpx.Client, sandbox: TwilioSandbox, **params: Any) -> dict[str, Any]:
    response = create(client, sandbox, **params)
    assert response.status_code == 201, response.text
    payload: dict[str, Any] = response.json()
    _validate(payload, MESSAGE_SCHEMA)
    return payload


def assert_error(response: httpx.Response, code: int, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload: dict[str, Any] = response.json()
    assert set(payload) == ERROR_KEYS
    assert payload["code"] == code
    assert payload["status"] == status
    assert payload["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert payload["message"]
    return payload


# resources ----------------------------------------------------------------------------------------


def test_account_resource_answers_as_health_check(
    sandbox: TwilioSandbox, client: httpx.Client
) -> None:
    response = client.get(f"/2010-04-01/Accounts/{sandbox.account_sid}.json")
    assert response.status_code == 200
    account = response.json()
    assert account["sid"] == sandbox.account_sid
    assert account["status"] == "active"
    assert RFC_2822.fullmatch(account["date_created"])
    assert "auth_token" not in account


def test_generated_credentials_have_twilio_shapes(sandbox: TwilioSandbox) -> None:
    assert re.fullmatch(r"AC[0-9a-f]{32}", sandbox.account_sid)
    assert re.fullmatch(r"[0-9a-f]{32}", sandbox.auth_token)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.base_url)
    key, secret = sandbox.create_api_key()
    assert re.fullmatch(r"SK[0-9a-f]{32}", key)
    assert re.fullmatch(r"[0-9a-f]{32}", secret)


def test_create_answers_the_message_resource(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    message = created(client, sandbox, Body="Hello there")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["status"] == "queued"
    assert message["direction"] == "outbound-api"
    assert message["from"] == GOOD_FROM
    assert message["to"] == TO
    assert message["body"] == "Hello there"
    assert message["num_segments"] == "1"
    assert message["num_media"] == "0"
    assert message["price"] is None
    assert message["date_sent"] is None
    assert message["error_code"] is None
    assert message["api_version"] == "2010-04-01"
    assert message["account_sid"] == sandbox.account_sid
    assert message["uri"] == message_path(sandbox, message["sid"])
    assert message["subresource_uris"] == {"media": message_path(sandbox, message["sid"],
                                                                 "/Media.json")}

    fetched = client.get(message_path(sandbox, message["sid"]))
    assert fetched.status_code == 200
    body = fetched.json()
    _validate(body, MESSAGE_SCHEMA)
    # immediate progression: already delivered, priced and sent
    assert body["status"] == "delivered"
    assert body["price"] == "-0.00790"
    assert body["price_unit"] == "USD"
    assert RFC_2822.fullmatch(body["date_sent"])

    (stored,) = sandbox.messages
    assert stored.sid == message["sid"]
    assert stored.status_history == ("queued", "sending", "sent", "delivered")
    assert stored.params == (("To", TO), ("From", GOOD_FROM), ("Body", "Hello there"))
    assert sandbox.get_message(message["sid"]) == stored
    assert sandbox.get_message("SM" + "0" * 32) is None


@pytest.mark.parametrize(
    ("body", "smart"),
    [
        ("x" * 160, False),
        ("x" * 161, False),
        ("Grüße aus Köln ☃", False),
        ("“Smart quotes” — and dashes… " * 3, False),
        ("“Smart quotes” — and dashes… " * 3, True),
        ("{[~]}" * 40, False),
    ],
)
def test_num_segments_follow_the_segment_calculator(
    sandbox: TwilioSandbox, client: httpx.Client, body: str, smart: bool
) -> None:
    params = {"Body": body}
    if smart:
        params["SmartEncoded"] = "true"
    message = created(client, sandbox, **params)
    expected = analyze(body, smart_encoded=smart)
    assert message["num_segments"] == str(expected.segments)
    stored = sandbox.get_message(message["sid"])
    assert stored is not None
    assert stored.encoding == expected.encoding
    price = client.get(message_path(sandbox, message["sid"])).json()["price"]
    assert price == f"-{0.0079 * expected.segments:.5f}"


def test_smart_encoding_saves_segments(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    text = "“Smart quotes” — and dashes… " * 3
    plain = created(client, sandbox, Body=text)
    smart = created(client, sandbox, Body=text, SmartEncoded="True")
    assert int(smart["num_segments"]) < int(plain["num_segments"])


def test_media_messages_and_media_resources(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    urls = ["https://example.com/owl.png", "https://example.com/clip.mp4?x=1",
            "https://example.com/blob"]
    response = create(
        client, sandbox, data=[("To", TO), ("From", GOOD_FROM)] + [("MediaUrl", u) for u in urls]
    )
    assert response.status_code == 201, response.text
    message = response.json()
    _validate(message, MESSAGE_SCHEMA)
    sid = message["sid"]
    assert sid.startswith("MM")
    assert message["num_media"] == "3"
    assert message["body"] == ""

    listing = client.get(message["subresource_uris"]["media"])
    assert listing.status_code == 200
    page = listing.json()
    _validate(page, MEDIA_LIST_SCHEMA)
    media = page["media_list"]
    assert [m["content_type"] for m in media] == ["image/png", "video/mp4",
                                                  "application/octet-stream"]
    assert all(re.fullmatch(r"ME[0-9a-f]{32}", m["sid"]) for m in media)
    assert all(m["parent_sid"] == sid for m in media)

    one = client.get(media[0]["uri"])
    assert one.status_code == 200
    _validate(one.json(), MEDIA_SCHEMA)
    assert one.json() == media[0]
    assert [m.url for m in sandbox.messages[0].media] == urls

    paged = client.get(message["subresource_uris"]["media"], params={"PageSize": 2}).json()
    _validate(paged, MEDIA_LIST_SCHEMA)
    assert [m["sid"] for m in paged["media_list"]] == [m["sid"] for m in media[:2]]
    rest = client.get(paged["next_page_uri"]).json()
    assert [m["sid"] for m in rest["media_list"]] == [media[2]["sid"]]
    assert rest["next_page_uri"] is None

    assert client.delete(media[0]["uri"]).status_code == 204
    assert_error(client.get(media[0]["uri"]), 20404, 404)
    assert len(client.get(message["subresource_uris"]["media"]).json()["media_list"]) == 2
    assert_error(client.get(message_path(sandbox, sid, "/Media/ME" + "0" * 32 + ".json")),
                 20404, 404)


def test_messaging_service_starts_accepted_and_gets_a_pool_sender(
    sandbox: TwilioSandbox, client: httpx.Client
) -> None:
    response = create(client, sandbox, data={"To": TO, "MessagingServiceSid": MG, "Body": "x"})
    assert response.status_code == 201
    message = response.json()
    _validate(message, MESSAGE_SCHEMA)
    assert message["status"] == "accepted"
    assert message["from"] is None
    assert message["messaging_service_sid"] == MG
    stored = sandbox.get_message(message["sid"])
    assert stored is not None
    assert stored.status_history == ("accepted", "queued", "sending", "sent", "delivered")
    assert stored.from_ == POOL_NUMBER


def test_whatsapp_and_sender_kinds_are_accepted(
    sandbox: TwilioSandbox, client: httpx.Client
) -> None:
    wa = created(client, sandbox, To="whatsapp:" + TO, From="whatsapp:" + GOOD_FROM)
    assert wa["to"] == "whatsapp:" + TO
    assert sandbox.messages[0].status_history == ("queued", "sent", "delivered")
    assert created(client, sandbox, From="RATATOSK")["from"] == "RATATOSK"
    assert created(client, sandbox, From="12345")["from"] == "12345"


def test_all_optional_parameters_accepted_and_unknown_ones_ignored(
    sandbox: TwilioSandbox, client: httpx.Client
) -> None:
    message = created(
        client,
        sandbox,
        MessagingServiceSid=MG,
        ValidityPeriod="36000",
        MaxPrice="0.5",
        ProvideFeedback="true",
        Attempt="2",
        ForceDelivery="false",
        ContentRetention="discard",
        AddressRetention="obfuscate",
        SmartEncoded="false",
        PersistentAction="geo:37.787890,-122.391664",
        TrafficType="free",
        ShortenUrls="FALSE",
        SendAsMms="true",
        RiskCheck="disable",
        ContentSid="HX" + "b" * 32,
        ContentVariables='{"1": "12/1", "2": "3pm"}',
        ApplicationSid="AP" + "c" * 32,
        FallbackFrom="+15005550006",
        SomethingTwilioAddsNextYear="whatever",
    )
    assert message["status"] == "accepted"
    assert message["num_segments"] == "1"  # SendAsMms: one MMS


# validation ---------------------------------------------------------------------------------------

SOON = datetime.now(timezone.utc) + timedelta(hours=1)

VALIDATION_CASES = [
    ({"From": GOOD_FROM, "Body": "x"}, 21604),
    ({"To": "", "From": GOOD_FROM, "Body": "x"}, 21604),
    ({"To": "5551234", "From": GOOD_FROM, "Body": "x"}, 21211),
    ({"To": "+0123456", "From": GOOD_FROM, "Body": "x"}, 21211),
    ({"To": "whatsapp:5551234", "From": "whatsapp:" + GOOD_FROM, "Body": "x"}, 21211),
    ({"To": "+1555123456789012", "From": GOOD_FROM, "Body": "x"}, 21211),
    ({"To": TO, "Body": "x"}, 21603),
    ({"To": TO, "From": "", "Body": "x"}, 21603),
    ({"To": TO, "From": "+0", "Body": "x"}, 21212),
    ({"To": TO, "From": "not a valid sender id", "Body": "x"}, 21212),
    ({"To": TO, "From": "whatsapp:RATATOSK", "Body": "x"}, 21212),
    ({"To": "whatsapp:" + TO, "From": GOOD_FROM, "Body": "x"}, 21910),
    ({"To": TO, "From": "whatsapp:" + GOOD_FROM, "Body": "x"}, 21910),
    ({"To": TO, "From": GOOD_FROM}, 21602),
    ({"To": TO, "From": GOOD_FROM, "Body": ""}, 21602),
    ({"To": TO, "From": GOOD_FROM, "Body": "x" * 1601}, 21617),
    ([("To", TO), ("From", GOOD_FROM)] + [("MediaUrl", f"https://e.com/{i}.png")
                                          for i in range(11)], 21623),
    ({"To": TO, "From": GOOD_FROM, "MediaUrl": "ftp://example.com/a.png"}, 21620),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ValidityPeriod": "0"}, 21624),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ValidityPeriod": "36001"}, 21624),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ValidityPeriod": "soon"}, 21624),
    ({"To": TO, "MessagingServiceSid": "MG123", "Body": "x"}, 21705),
    ({"To": TO, "MessagingServiceSid": "MZ" + "a" * 32, "Body": "x"}, 21705),
    ({"To": TO, "From": GOOD_FROM, "ContentSid": "HX123"}, 21655),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ContentVariables": '{"1": "a"}'}, 21654),
    ({"To": TO, "From": GOOD_FROM, "ContentSid": "HX" + "b" * 32, "ContentVariables": "[1]"},
     21656),
    ({"To": TO, "From": GOOD_FROM, "ContentSid": "HX" + "b" * 32, "ContentVariables": "{"},
     21656),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "StatusCallback": "not a url"}, 21609),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "StatusCallback": "ftp://example.com/"}, 21609),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "MaxPrice": "cheap"}, 21627),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "MaxPrice": "-1"}, 21627),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "Attempt": "two"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "SmartEncoded": "yes"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "SendAsMms": "1"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ProvideFeedback": "maybe"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ForceDelivery": ""}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ShortenUrls": "on"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ContentRetention": "keep"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "AddressRetention": "retain "}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "RiskCheck": "off"}, 21619),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "TrafficType": "paid"}, 21619),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "ScheduleType": "later",
      "SendAt": SOON.isoformat()}, 35126),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "SendAt": SOON.isoformat()}, 35126),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "ScheduleType": "fixed"}, 35111),
    ({"To": TO, "From": GOOD_FROM, "Body": "x", "ScheduleType": "fixed",
      "SendAt": SOON.isoformat()}, 35118),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "ScheduleType": "fixed",
      "SendAt": (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()}, 35114),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "ScheduleType": "fixed",
      "SendAt": (datetime.now(timezone.utc) + timedelta(days=36)).isoformat()}, 35114),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "ScheduleType": "fixed",
      "SendAt": "tomorrow"}, 35114),
    ({"To": TO, "MessagingServiceSid": MG, "Body": "x", "ScheduleType": "fixed",
      "SendAt": "2020-01-01T00:00:00Z"}, 35114),
]


@pytest.mark.parametrize(("data", "code"), VALIDATION_CASES)
def test_validation_errors(
    sandbox: TwilioSandbox, client: httpx.Client, data: Any, code: int
) -> None:
    assert_error(create(client, sandbox, data=data), code)
    assert sandbox.messages == []


def test_body_limit_is_inclusive(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    assert created(client, sandbox, Body="x" * 1600)["num_segments"] == "11"
    response = create(
        client,
        sandbox,
        data=[("To", TO), ("From", GOOD_FROM)]
        + [("MediaUrl", f"https://e.com/{i}.png") for i in range(10)],
    )
    assert response.json()["num_media"] == "10"
    assert created(client, sandbox, ValidityPeriod="1")["status"] == "queued"


def test_json_bodies_are_ignored_like_twilio_does(
    sandbox: TwilioSandbox, client: httpx.Client
) -> None:
    response = client.post(messages_path(sandbox), json={"To": TO, "From": GOOD_FROM, "Body": "x"})
    assert_error(response, 21604)


@pytest.mark.parametrize(("number", "code"), sorted(MAGIC_TO.items()))
def test_magic_to_numbers(
    sandbox: TwilioSandbox, client: httpx.Client, number: str, code: int
) -> None:
    assert_error(create(client, sandbox, To=number), code)


@pytest.mark.parametrize(("number", "code"), sorted(MAGIC_FROM.items()))
def test_magic_from_numbers(
    sandbox: TwilioSandbox, client: httpx.Client, number: str, code: int
) -> None:
    assert_error(create(client, sandbox, From=number), code)


def test_magic_numbers_are_exactly_the_documented_ones() -> None:
    assert MAGIC_FROM == {"+15005550001": 21212, "+15005550007": 21606, "+15005550008": 21611}
    assert MAGIC_TO == {"+15005550001": 21211, "+15005550002": 21612, "+15005550003": 21408,
                        "+15005550004": 21610, "+15005550009": 21614}


def test_magic_good_from_passes(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    assert created(client, sandbox, From="+15005550006")["status"] == "queued"


# update, cancel, redact, delete -------------------------------------------------------------------


def test_schedule_then_cancel(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    send_at = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = created(
        client, sandbox, From=None, MessagingServiceSid=MG, ScheduleType="fixed", SendAt=send_at
    )
    assert message["status"] == "scheduled"
    assert message["date_sent"] is None
    stored = sandbox.get_message(message["sid"])
    assert stored is not None and stored.send_at is not None
    assert stored.send_at.strftime("%Y-%m-%dT%H:%M:%SZ") == send_at
    assert sandbox.advance() == 0  # scheduled messages wait for SendAt

    path = message_path(sandbox, message["sid"])
    assert_error(client.post(path, data={"Status": "sent"}), 21475)
    response = client.post(path, data={"Status": "canceled"})
    assert response.status_code == 200
    _validate(response.json(), MESSAGE_SCHEMA)
    assert response.json()["status"] == "canceled"
    assert_error(client.post(path, data={"Status": "canceled"}), 30409)


def test_cancel_needs_a_scheduled_message(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    message = created(client, sandbox)
    payload = assert_error(
        client.post(message_path(sandbox, message["sid"]), data={"Status": "canceled"}), 30409
    )
    assert message["sid"] in payload["message"]


def test_redact_body(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    message = created(client, sandbox, Body="secret code 1234")
    path = message_path(sandbox, message["sid"])
    assert_error(client.post(path, data={"Body": "something else"}), 21619)
    response = client.post(path, data={"Body": ""})
    assert response.status_code == 200
    _validate(response.json(), MESSAGE_SCHEMA)
    assert response.json()["body"] == ""
    assert client.get(path).json()["body"] == ""
    unchanged = client.post(path, data={})
    assert unchanged.status_code == 200 and unchanged.json()["status"] == "delivered"


def test_delete(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    message = created(client, sandbox)
    path = message_path(sandbox, message["sid"])
    response = client.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(client.get(path), 20404, 404)
    assert_error(client.delete(path), 20404, 404)
    assert_error(client.post(path, data={"Body": ""}), 20404, 404)
    assert sandbox.messages == []


# lists --------------------------------------------------------------------------------------------


def test_list_filters(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    a = created(client, sandbox, To="+15551110001")
    b = created(client, sandbox, To="+15551110002", From="+15005550020")
    c = created(client, sandbox, To="+15551110001", From="+15005550020")

    def sids(**query: str) -> list[str]:
        response = client.get(messages_path(sandbox), params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        _validate(page, LIST_SCHEMA)
        return [m["sid"] for m in page["messages"]]

    assert sids() == [c["sid"], b["sid"], a["sid"]]  # newest first
    assert sids(To="+15551110001") == [c["sid"], a["sid"]]
    assert sids(From="+15005550020") == [c["sid"], b["sid"]]
    assert sids(To="+15551110001", From="+15005550020") == [c["sid"]]
    today = datetime.now(timezone.utc).date()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    assert len(sids(DateSent=today.isoformat())) == 3
    assert sids(DateSent=yesterday.isoformat()) == []
    assert len(sids(**{"DateSent<": today.isoformat()})) == 3
    assert sids(**{"DateSent<": yesterday.isoformat()}) == []
    assert len(sids(**{"DateSent>": yesterday.isoformat()})) == 3
    assert sids(**{"DateSent>": tomorrow.isoformat()}) == []
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(sids(**{"DateSent>": hour_ago})) == 3
    # the unencoded form Twilio's docs show: DateSent<=YYYY-MM-DD
    raw = client.get(f"{messages_path(sandbox)}?DateSent<={yesterday.isoformat()}")
    assert raw.json()["messages"] == []
    assert_error(client.get(messages_path(sandbox), params={"DateSent": "last week"}), 20001)


def test_list_paging(sandbox: TwilioSandbox, client: httpx.Client) -> None:
    sids = [created(client, sandbox, Body=f"m{i}")["sid"] for i in range(7)]
    newest_first = sids[::-1]
    first = client.get(messages_path(sandbox), params={"PageSize": 3, "To": TO}).json()
    _validate(first, LIST_SCHEMA)
    assert [m["sid"] for m in first["messages"]] == newest_first[:3]
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 3, 0, 2)
    assert first["previous_page_uri"] is None
    assert first["uri"] == f"{messages_path(sandbox)}?To=%2B15551230001&PageSize=3&Page=0"
    assert first["first_page_uri"] == first["uri"]

    # a message created meanwhile does not shift the following pages
    created(client, sandbox, Body="late")
    second = client.get(first["next_page_uri"]).json()
    _validate(second, LIST_SCHEMA)
    assert [m["sid"] for m in second["messages"]] == newest_first[3:6]
    assert (second["page"], second["start"], second["end"]) == (1, 3, 5)
    third = client.get(second["next_page_uri"]).json()
    assert [m["sid"] for m in third["messages"]] == newest_first[6:]
    assert third["next_page_uri"] is None
    assert (third["page"], third["start"], third["end"]) == (2, 6, 6)

    back = client.get(third["previous_page_uri"]).json()
    assert [m["sid"] for m in back["messages"]] == newest_first[3:6]
    assert back["page"] == 1

    by_number = client.get(messages_path(sandbox), params={"PageSize": 3, "Page": 1}).json()
    assert len(by_number["messages"]) == 3
    empty = client.get(messages_path(sandbox), params={"To": "+15550000000"}).json()
    _validate(empty, LIST_SCHEMA)
    assert empty["messages"] == [] and empty["end"] == 0 and empty["next_page_uri"] is None

    for bad in ({"PageSize": "0"}, {"PageSize": "1001"}, {"PageSize": "ten"}, {"Page": "-1"}):
        assert_error(client.get(messages_path(sandbox), params=bad), 20001)
    assert_error(client.get(messages_path(sandbox), params={"PageToken": "XYZ"}), 21481)


# auth ---------------------------------------------------------------------------------------------


def test_unauthenticated_requests_get_20003(sandbox: TwilioSandbox) -> None:
    url = sandbox.base_url + messages_path(sandbox)
    expected = {"code": 20003, "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    key, secret = sandbox.create_api_key()
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + "bm9jb2xvbg=="},  # "nocolon"
    ]
    with httpx.Client() as anon:
        for headers in cases:
            response = anon.post(url, data={"To": TO, "From": GOOD_FROM, "Body": "x"},
                                 headers=headers)
            assert response.status_code == 401
            assert response.json() == expected
            assert response.headers["www-authenticate"].startswith("Basic")
        for auth in [(sandbox.account_sid, "wrong"), ("AC" + "0" * 32, sandbox.auth_token),
                     (key, "wrong"), (key, sandbox.auth_token), ("SK" + "0" * 32, secret)]:
            response = anon.get(url, auth=auth)
            assert response.status_code == 401
            assert response.json() == expected
    assert sandbox.messages == []


def test_api_keys_authenticate(sandbox: TwilioSandbox) -> None:
    key, secret = sandbox.create_api_key()
    with httpx.Client(base_url=sandbox.base_url, auth=(key, secret)) as client:
        assert created(client, sandbox)["account_sid"] == sandbox.account_sid


def test_account_in_url_must_match_the_credentials(
    sandbox: TwilioSandbox, client: httpx.Client
) -> None:
    other = "AC" + "1" * 32
    response = client.post(f"/2010-04-01/Accounts/{other}/Messages.json",
                           data={"To": TO, "From": GOOD_FROM, "Body": "x"})
    assert_error(response, 20003, 401)
    assert_error(client.get(f"/2010-04-01/Accounts/{other}.json"), 20003, 401)


def test_fixed_credentials() -> None:
    sid, token = "AC" + "ab" * 16, "my-sandbox-token"
    with TwilioSandbox(account_sid=sid, auth_token=token) as box, httpx.Client(
        base_url=box.base_url, auth=(sid, token)
    ) as client:
        assert box.account_sid == sid and box.auth_token == token
        assert client.get(f"/2010-04-01/Accounts/{sid}.json").status_code == 200


# routes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/2010-04-01",
        "/2010-04-01/Accounts",
        "/2010-04-01/Accounts/{acc}",
        "/2010-04-01/Accounts/{acc}/Calls.json",
        "/2010-04-01/Accounts/{acc}/Messages",
        "/2010-04-01/Accounts/{acc}/Messages.json/",
        "/2010-04-01/Accounts/{acc}/Messages/SMx/Other.json",
        "/2010-04-01/Accounts/{acc}/Messages/SMx/Media/MEx/more.json",
        "/2008-08-01/Accounts/{acc}/Messages.json",
    ],
)
def test_unknown_routes_are_20404(
    sandbox: TwilioSandbox, client: httpx.Client, path: str
) -> None:
    payload = assert_error(client.get(path.format(acc=sandbox.account_sid)), 20404, 404)
    assert "was not found" in payload["message"]


@pytest.mark.parametrize(
    ("method", "suffix", "allow"),
    [
        ("PUT", "/Messages.json", "GET, POST"),
        ("DELETE", "/Messages.json", "GET, POST"),
        ("PATCH", "/Messages/SM{z}.json", "GET, POST, DELETE"),
        ("POST", ".json", "GET"),
        ("POST", "/Messages/SM{z}/Media.json", "GET"),
    ],
)
def test_wrong_methods_are_405(
    sandbox: TwilioSandbox, client: httpx.Client, method: str, suffix: str, allow: str
) -> None:
    path = f"/2010-04-01/Accounts/{sandbox.account_sid}" + suffix.format(z="0" * 32)
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert set(response.json()) == ERROR_KEYS


# limits -------------------------------------------------------------------------------------------


def test_max_concurrency_answers_429() -> None:
    with TwilioSandbox(max_concurrency=2, latency=0.4) as box:
        results: list[httpx.Response] = []
        lock = threading.Lock()
        barrier = threading.Barrier(5)

        def send() -> None:
            with httpx.Client(base_url=box.base_url, auth=(box.account_sid, box.auth_token),
                              timeout=5) as c:
                barrier.wait()
                response = create(c, box)
            with lock:
                results.append(response)

        threads = [threading.Thread(target=send) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert codes == [201, 201, 429, 429, 429]
        for response in results:
            if response.status_code == 429:
                assert response.headers["retry-after"] == "1"
                assert_error(response, 20429, 429)
        assert len(box.messages) == 2
        # reads are not creates: never limited
        with httpx.Client(base_url=box.base_url, auth=(box.account_sid, box.auth_token)) as c:
            assert c.get(messages_path(box)).status_code == 200
            assert create(c, box).status_code == 201


def test_sender_queue_overflow_is_21611() -> None:
    # one segment an hour: ten hours of queue fit ten messages, the eleventh is refused
    with TwilioSandbox(messages_per_second=1 / 3600) as box, httpx.Client(
        base_url=box.base_url, auth=(box.account_sid, box.auth_token)
    ) as client:
        for _ in range(10):
            assert create(client, box).status_code == 201
        assert_error(create(client, box), 21611)
        assert create(client, box, From="+15005550099").status_code == 201  # another sender
        first, second = box.messages[:2]
        assert first.status == "delivered"
        assert second.status == "queued"  # waits for its slot in an hour


def test_validity_period_expires_queued_messages() -> None:
    with TwilioSandbox(messages_per_second=0.5, progression="manual") as box, httpx.Client(
        base_url=box.base_url, auth=(box.account_sid, box.auth_token)
    ) as client:
        ok = created(client, box, ValidityPeriod="5")
        late = created(client, box, ValidityPeriod="1")  # would wait 2 s for its slot
        while box.advance():
            pass
        assert box.get_message(ok["sid"]).status == "delivered"  # type: ignore[union-attr]
        expired = client.get(message_path(box, late["sid"])).json()
        assert (expired["status"], expired["error_code"]) == ("failed", 30001)
        assert expired["error_message"] == "Queue overflow"
        assert expired["price"] is None
