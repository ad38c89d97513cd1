"""The Vonage sandbox over loopback HTTP: both APIs, authentication, magic numbers, throughput,
errors on demand, and the real connectors (``vonage/messages``, ``vonage/sms``) sending to it."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
from vonage_messages import Sms as SdkSms
from vonage_messages import WhatsappImage, WhatsappTemplate
from vonage_messages.models import WhatsappTemplateResource, WhatsappTemplateSettings

import ratatosk
from ratatosk import MediaType, MessageBuilder, MessagingErrorCodes
from ratatosk_vonage._errors import SMS_STATUS_MAP
from ratatosk_vonage.sandbox import (
    ERRORS,
    MAGIC_ERRORS,
    VonageSandbox,
    dsn_for,
)
from ratatosk_vonage.signature import compute_sms_signature

FROM = "15551230000"
TO = "15551239999"


@pytest.fixture
def sandbox() -> Iterator[VonageSandbox]:
    with VonageSandbox() as sb:
        yield sb


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as c:
        yield c


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def _send_messages(client: httpx.Client, sb: VonageSandbox, body: object,
                   auth: str | None = None) -> httpx.Response:
    return client.post(f"{sb.base_url}/v1/messages", json=body,
                       headers={"Authorization": auth or _basic(sb.api_key, sb.api_secret)})


def _send_sms(client: httpx.Client, sb: VonageSandbox, **fields: str) -> dict[str, object]:
    form = {"api_key": sb.api_key, "api_secret": sb.api_secret, "from": FROM, "to": TO,
            "text": "hi", **fields}
    response = client.post(f"{sb.base_url}/sms/json", data=form)
    assert response.status_code == 200
    data: dict[str, object] = response.json()
    return data


def _text(to: str = TO) -> dict[str, str]:
    return {"channel": "sms", "message_type": "text", "to": to, "from": FROM, "text": "hello"}


# -- Messages API ------------------------------------------------------------------------------


def test_messages_api_accepts_a_text_with_202_and_a_uuid(
        sandbox: VonageSandbox, client: httpx.Client) -> None:
    response = _send_messages(client, sandbox, {**_text(), "client_ref": "order-7"})
    assert response.status_code == 202
    message_uuid = response.json()["message_uuid"]
    assert uuid.UUID(message_uuid)
    message = sandbox.get_message(message_uuid)
    assert message is not None
    assert (message.api, message.channel, message.to, message.text, message.client_ref) == (
        "messages", "sms", TO, "hello", "order-7")
    sandbox.wait_until_idle()
    assert sandbox.get_message(message_uuid).status_history == (  # type: ignore[union-attr]
        "submitted", "delivered")


@pytest.mark.parametrize("auth", [None, "Basic " + base64.b64encode(b"nope:nope").decode(),
                                  "Bearer not.a.jwt", "Basic %%%"])
def test_messages_api_refuses_bad_credentials_with_a_problem(
        sandbox: VonageSandbox, client: httpx.Client, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = client.post(f"{sandbox.base_url}/v1/messages", json=_text(), headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Unauthorized" and problem["type"].startswith("https://")
    assert set(problem) >= {"type", "title", "detail", "instance"}
    assert sandbox.messages == []


def test_messages_api_accepts_an_application_jwt_and_refuses_a_foreign_one(
        sandbox: VonageSandbox, client: httpx.Client) -> None:
    application_id, private_key = sandbox.add_application()
    assert private_key is not None
    now = int(time.time())
    claims = {"application_id": application_id, "iat": now, "exp": now + 60,
              "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, private_key, algorithm="RS256")
    assert _send_messages(client, sandbox, _text(), f"Bearer {token}").status_code == 202
    # signed by another key, or for an unknown application
    _other_id, other_key = VonageSandbox().add_application()
    forged = jwt.encode(claims, other_key, algorithm="RS256")
    refused = _send_messages(client, sandbox, _text(), f"Bearer {forged}")
    assert refused.status_code == 401 and "signature" in refused.json()["detail"]
    unknown = jwt.encode({**claims, "application_id": "x"}, private_key, algorithm="RS256")
    assert _send_messages(client, sandbox, _text(), f"Bearer {unknown}").status_code == 401
    expired = jwt.encode({**claims, "exp": now - 3600}, private_key, algorithm="RS256")
    assert _send_messages(client, sandbox, _text(), f"Bearer {expired}").status_code == 401


def test_sdk_jwt_client_tokens_authenticate(sandbox: VonageSandbox, client: httpx.Client) -> None:
    from vonage_jwt import JwtClient

    application_id, private_key = sandbox.add_application()
    token = JwtClient(application_id, private_key).generate_application_jwt().decode()
    assert _send_messages(client, sandbox, _text(), f"Bearer {token}").status_code == 202


@pytest.mark.parametrize(("body", "name"), [
    ({**_text(), "to": "+15551239999"}, "to"),
    ({**_text(), "channel": "fax"}, "channel"),
    ({**_text(), "message_type": "image"}, "message_type"),
    ({**_text(), "from": ""}, "from"),
    ({**_text(), "text": ""}, "text"),
    ({**_text(), "webhook_url": "ftp://x"}, "webhook_url"),
    ({**_text(), "ttl": 5}, "ttl"),
    ({**_text(), "client_ref": "x" * 101}, "client_ref"),
    ({"channel": "mms", "message_type": "image", "to": TO, "from": FROM,
      "image": {"url": "not a url"}}, "image"),
])
def test_messages_api_names_the_invalid_parameter(
        sandbox: VonageSandbox, client: httpx.Client, body: dict[str, object], name: str) -> None:
    response = _send_messages(client, sandbox, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["invalid_parameters"][0]["name"] == name
    assert problem["type"].endswith("#1150")


def test_messages_api_malformed_json_wrong_route_and_method(
        sandbox: VonageSandbox, client: httpx.Client) -> None:
    auth = {"Authorization": _basic(sandbox.api_key, sandbox.api_secret)}
    bad = client.post(f"{sandbox.base_url}/v1/messages", content=b"{",
                      headers={**auth, "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["title"] == "Bad Request"
    assert client.post(f"{sandbox.base_url}/v2/nothing", json={}, headers=auth).status_code == 404
    assert client.get(f"{sandbox.base_url}/v1/messages", headers=auth).status_code == 405


@pytest.mark.parametrize(("number", "kind"), sorted(MAGIC_ERRORS.items()))
def test_messages_api_magic_numbers(sandbox: VonageSandbox, client: httpx.Client,
                                    number: str, kind: str) -> None:
    response = _send_messages(client, sandbox, _text(number))
    error = ERRORS[kind]
    assert response.status_code == error.http_status
    assert response.json()["type"].endswith(f"#{error.code}")
    if kind == "throttled":
        assert response.headers["retry-after"] == "1"
    assert sandbox.messages == []


def test_throughput_limit_answers_429_with_retry_after_then_lets_sends_through(
        client: httpx.Client) -> None:
    with VonageSandbox(messages_per_second=2) as sb:
        codes = [_send_messages(client, sb, _text()).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        refused = _send_messages(client, sb, _text())
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        sms = _send_sms(client, sb)
        assert sms["messages"] == [{"status": "1", "to": TO, "error-text": ERRORS[
            "throttled"].sms_error_text}]
        time.sleep(1.05)
        assert _send_messages(client, sb, _text()).status_code == 202


def test_fail_next_answers_the_errors_asked_for_then_recovers(
        sandbox: VonageSandbox, client: httpx.Client) -> None:
    sandbox.fail_next("server_error", 2, api="messages")
    sandbox.fail_next("low_balance", api="sms")
    assert _send_sms(client, sandbox)["messages"][0]["status"] == "9"  # type: ignore[index]
    assert [_send_messages(client, sandbox, _text()).status_code for _ in range(3)] == [
        500, 500, 202]
    with pytest.raises(ValueError, match="unknown error kind"):
        sandbox.fail_next("oops")


# -- SMS API -----------------------------------------------------------------------------------


def test_sms_api_answers_one_entry_per_part(sandbox: VonageSandbox, client: httpx.Client) -> None:
    one = _send_sms(client, sandbox, **{"client-ref": "r1"})
    assert one["message-count"] == "1"
    entry = one["messages"][0]  # type: ignore[index]
    assert entry["status"] == "0" and entry["to"] == TO and entry["client-ref"] == "r1"
    assert set(entry) >= {"message-id", "remaining-balance", "message-price", "network"}
    long_text = _send_sms(client, sandbox, text="a" * 161)
    assert long_text["message-count"] == "2"
    unicode_text = _send_sms(client, sandbox, text="ü€" + "é" * 10 + "ж" * 60, type="unicode")
    assert unicode_text["message-count"] == "2"
    ids = [m["message-id"] for m in long_text["messages"]]  # type: ignore[attr-defined]
    message = sandbox.get_message(ids[1])
    assert message is not None and message.part_ids == tuple(ids)
    balances = [float(m["remaining-balance"]) for m in long_text["messages"]]  # type: ignore[attr-defined]
    assert balances[0] > balances[1]


def test_sms_api_credentials_and_signed_requests(
        sandbox: VonageSandbox, client: httpx.Client) -> None:
    url = f"{sandbox.base_url}/sms/json"
    missing = client.post(url, data={"from": FROM, "to": TO, "text": "x"}).json()
    assert missing["messages"][0]["status"] == "2"
    wrong = client.post(url, data={"api_key": sandbox.api_key, "api_secret": "no",
                                   "from": FROM, "to": TO, "text": "x"}).json()
    assert wrong["messages"][0] == {"status": "4", "error-text": "Bad Credentials"}
    params = {"api_key": sandbox.api_key, "from": FROM, "to": TO, "text": "signed",
              "timestamp": str(int(time.time()))}
    params["sig"] = compute_sms_signature(params, sandbox.signature_secret,
                                          sandbox.signature_method)
    assert client.post(url, data=params).json()["messages"][0]["status"] == "0"
    params["text"] = "tampered"
    assert client.post(url, data=params).json()["messages"][0]["status"] == "4"
    # GET with a query string and a JSON body are accepted too
    query = {"api_key": sandbox.api_key, "api_secret": sandbox.api_secret, "from": FROM,
             "to": TO, "text": "get"}
    assert client.get(url, params=query).json()["messages"][0]["status"] == "0"
    assert client.post(url, json=query).json()["messages"][0]["status"] == "0"


@pytest.mark.parametrize(("fields", "status"), [
    ({"to": ""}, "2"), ({"text": ""}, "2"), ({"to": "12"}, "3"), ({"type": "binary"}, "3"),
    ({"client-ref": "x" * 41}, "3"), ({"ttl": "5"}, "3"), ({"callback": "nope"}, "3"),
    ({"from": "not a valid sender!"}, "3"),
])
def test_sms_api_refuses_bad_fields_with_a_status(
        sandbox: VonageSandbox, client: httpx.Client, fields: dict[str, str], status: str) -> None:
    answer = _send_sms(client, sandbox, **fields)
    assert answer["message-count"] == "1"
    assert answer["messages"][0]["status"] == status  # type: ignore[index]
    assert answer["messages"][0]["error-text"]  # type: ignore[index]


@pytest.mark.parametrize(("number", "kind"), sorted(MAGIC_ERRORS.items()))
def test_sms_api_magic_numbers(sandbox: VonageSandbox, client: httpx.Client,
                               number: str, kind: str) -> None:
    entry = _send_sms(client, sandbox, to=number)["messages"][0]  # type: ignore[index]
    assert entry["status"] == ERRORS[kind].sms_status
    assert entry["error-text"] == ERRORS[kind].sms_error_text


# -- the real connectors -----------------------------------------------------------------------


def _message(to: str = "+" + TO, text: str = "Hello from Ratatosk") -> ratatosk.Message:
    return MessageBuilder().from_phone("+" + FROM).to_phone(to).with_text(text).build()


def test_messages_connector_sends_through_the_dsn(sandbox: VonageSandbox) -> None:
    connector = ratatosk.connect(dsn_for(sandbox)).blocking()
    try:
        result = connector.send_message(_message())
        assert result.is_success, result.error
        assert result.data is not None
        held = sandbox.get_message(result.data.remote_message_id)
        assert held is not None and held.request["text"] == "Hello from Ratatosk"
        mms = connector.send_message(
            MessageBuilder().from_phone("+" + FROM).to_phone("+" + TO).with_text("a photo")
            .with_media("https://example.com/a.jpg", MediaType.IMAGE).build())
        assert mms.is_success, mms.error
        held = sandbox.get_message(mms.data.remote_message_id)  # type: ignore[union-attr]
        assert held is not None and (held.channel, held.message_type) == ("mms", "image")
        whatsapp = connector.send_message(
            MessageBuilder().from_phone("+" + FROM).to_phone("whatsapp:+" + TO)
            .with_template("welcome", {"1": "Ada"}).build())
        assert whatsapp.is_success, whatsapp.error
        held = sandbox.get_message(whatsapp.data.remote_message_id)  # type: ignore[union-attr]
        assert held is not None and held.request["template"] == {"name": "welcome",
                                                                   "parameters": ["Ada"]}
    finally:
        connector.shutdown()


@pytest.mark.parametrize(("kind", "code"), [
    ("invalid_number", MessagingErrorCodes.INVALID_MESSAGE),
    ("low_balance", MessagingErrorCodes.INSUFFICIENT_FUNDS),
    ("throttled", MessagingErrorCodes.RATE_LIMITED),
    ("bad_credentials", MessagingErrorCodes.INVALID_CREDENTIALS),
])
def test_messages_connector_maps_the_sandbox_errors(
        sandbox: VonageSandbox, kind: str, code: object) -> None:
    connector = ratatosk.connect(dsn_for(sandbox)).blocking()
    try:
        sandbox.fail_next(kind, 5)
        result = connector.send_message(_message())
        assert not result.is_success
        assert result.error is not None and result.error.code == code
        assert result.error.provider_code == ERRORS[kind].code
        if kind == "throttled":
            assert result.error.retry_after is not None
    finally:
        connector.shutdown()


def test_messages_connector_server_error_is_outcome_unknown(sandbox: VonageSandbox) -> None:
    connector = ratatosk.connect(dsn_for(sandbox)).blocking()
    try:
        result = connector.send_message(_message("+" + next(
            n for n, k in MAGIC_ERRORS.items() if k == "server_error")))
        assert result.error is not None and result.error.outcome_unknown
        assert sandbox.messages == []
    finally:
        connector.shutdown()


def test_sms_connector_sends_every_part_and_maps_refusals(sandbox: VonageSandbox) -> None:
    connector = ratatosk.connect(dsn_for(sandbox, "sms")).blocking()
    try:
        result = connector.send_message(_message(text="x" * 200))
        assert result.is_success, result.error
        assert result.data is not None
        assert result.data.additional_data["message_count"] == 2
        held = sandbox.get_message(result.data.remote_message_id)
        assert held is not None and len(held.part_ids) == 2 and held.request["type"] == "text"
        unicode = connector.send_message(_message(text="Привет"))
        assert unicode.is_success
        held = sandbox.get_message(unicode.data.remote_message_id)  # type: ignore[union-attr]
        assert held is not None and held.request["type"] == "unicode"
        barred = connector.send_message(_message("+15550000002"))
        assert barred.error is not None
        assert barred.error.provider_code == "7"
        assert barred.error.code == SMS_STATUS_MAP["7"]  # the connector's documented mapping
        sandbox.fail_next("low_balance")
        broke = connector.send_message(_message())
        assert broke.error is not None
        assert broke.error.code == MessagingErrorCodes.INSUFFICIENT_FUNDS
    finally:
        connector.shutdown()


# -- the official SDK's request bodies ---------------------------------------------------------


def test_sdk_built_bodies_are_accepted(sandbox: VonageSandbox, client: httpx.Client) -> None:
    bodies = [
        SdkSms(to=TO, from_=FROM, text="hi from the SDK", client_ref="c1"),
        WhatsappImage(to=TO, from_=FROM,
                      image={"url": "https://example.com/a.png", "caption": "look"}),
        WhatsappTemplate(to=TO, from_=FROM,
                         template=WhatsappTemplateResource(name="welcome", parameters=["Ada"]),
                         whatsapp=WhatsappTemplateSettings(locale="en_GB")),
    ]
    for model in bodies:
        body = model.model_dump(by_alias=True, exclude_none=True)
        response = _send_messages(client, sandbox, body)
        assert response.status_code == 202, response.text
        held = sandbox.get_message(response.json()["message_uuid"])
        assert held is not None and held.request == json.loads(json.dumps(body))


# -- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {"progression": "slow"}, {"signature_method": "crc"}, {"sms_webhook_method": "PUT"},
    {"api_key": ""}, {"api_key": "a:b"}, {"step_delay": -1}, {"messages_per_second": 0},
])
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        VonageSandbox(**kwargs)  # type: ignore[arg-type]


def test_base_url_needs_a_started_sandbox_and_stop_is_idempotent() -> None:
    sb = VonageSandbox()
    with pytest.raises(RuntimeError):
        _ = sb.base_url
    sb.start()
    assert sb.running and repr(sb).startswith("<VonageSandbox")
    with pytest.raises(RuntimeError):
        sb.start()
    sb.stop()
    sb.stop()
    assert not sb.running


def test_the_sandbox_never_logs_credentials(
        sandbox: VonageSandbox, client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ratatosk_vonage.sandbox")
    query = {"api_key": sandbox.api_key, "api_secret": sandbox.api_secret, "from": FROM,
             "to": TO, "text": "get"}
    assert client.get(f"{sandbox.base_url}/sms/json", params=query).status_code == 200
    assert "GET /sms/json -> 200" in caplog.text
    assert sandbox.api_secret not in caplog.text


def test_a_failing_handler_answers_a_500_problem(
        sandbox: VonageSandbox, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(body: object) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sandbox._engine, "messages_send", broken)
    response = _send_messages(client, sandbox, _text())
    assert response.status_code == 500
    assert response.json()["title"] == ERRORS["server_error"].title


def test_bodies_it_cannot_read_close_the_connection(sandbox: VonageSandbox) -> None:
    import socket

    for head in (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
                 b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", sandbox.port or 0), timeout=5) as sock:
            sock.sendall(head)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.split(b" ", 2)[1] in (b"411", b"400", b"413")
    assert sandbox.messages == []
