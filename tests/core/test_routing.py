"""Routing connectors against real loopback servers: Twilio sandboxes (one down, one with a wrong
token, one that answers 503 or 500) and the documented Kestrel example connector.

Done when (issue 11): a message routed ``failover(A B)`` with A down is sent once, by B; a
recipient's error on A never fails over; a failed member is skipped for its cool-down, tried once
after it and rejoins.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from example_connector import KestrelSmsConnector

import ratatosk
from ratatosk import (
    ChannelCapability,
    ConnectorErrorCodes,
    ErrorInfo,
    FailoverConnector,
    Message,
    MessageSource,
    MessagingError,
    MessagingErrorCodes,
    RoundRobinConnector,
    is_provider_failure,
)
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox
from ratatosk_twilio.signature import compute_signature

US = "+15005550006"
THEM = "+14155550100"
M = MessagingErrorCodes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def twilio(base_url: str, sid: str = "AC" + "1" * 32, token: str = "t" * 32,
           **settings: Any) -> TwilioSmsConnector:
    return TwilioSmsConnector(settings={
        "AccountSid": sid, "AuthToken": token, "BaseUrl": base_url, "MaxRetries": 0,
        **settings})


def on(sandbox: TwilioSandbox, **settings: Any) -> TwilioSmsConnector:
    return twilio(sandbox.base_url, sandbox.account_sid, sandbox.auth_token, **settings)


def hi(to: str = THEM) -> Message:
    return Message.text("Hi", to=to, sender=US)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def a() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


@pytest.fixture
def b() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


class Answering:
    """A loopback server answering every request with one HTTP status (503, 500, ...)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests += 1
                body = b'{"code": 20500, "message": "down", "status": %d}' % owner.status
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# -- the classification ------------------------------------------------------------------------
@pytest.mark.parametrize(("error", "expected"), [
    (ErrorInfo(M.CONNECTION_FAILED, "refused", retryable=True), True),
    (ErrorInfo(M.CONNECTION_FAILED, "lost after sending", outcome_unknown=True), False),
    (ErrorInfo(M.TIMEOUT, "no answer", outcome_unknown=True), False),
    (ErrorInfo(M.TIMEOUT, "connect timeout", retryable=True), True),
    (ErrorInfo(M.INVALID_CREDENTIALS, "401"), True),
    (ErrorInfo(M.MISSING_CREDENTIALS, "none"), True),
    (ErrorInfo(ConnectorErrorCodes.AUTHENTICATION_FAILED, "auth"), True),
    (ErrorInfo(M.INSUFFICIENT_FUNDS, "402"), True),
    (ErrorInfo(M.ACCOUNT_SUSPENDED, "suspended"), True),
    (ErrorInfo(M.RATE_LIMITED, "429", retryable=True, retry_after=5.0), True),
    (ErrorInfo(M.SEND_MESSAGE_FAILED, "503", details={"http_status": 503}), True),
    (ErrorInfo(M.SEND_MESSAGE_FAILED, "500", outcome_unknown=True,
               details={"http_status": 500}), False),
    (ErrorInfo(M.INVALID_RECIPIENT, "bad number"), False),
    (ErrorInfo(M.RECIPIENT_OPTED_OUT, "STOP"), False),
    (ErrorInfo(M.INVALID_MESSAGE, "too long"), False),
    (ErrorInfo(M.INVALID_SENDER, "not yours"), False),
    (None, False),
], ids=lambda v: str(v.code) + ("-unknown" if v.outcome_unknown else "")
    if isinstance(v, ErrorInfo) else str(v))
def test_which_failures_move_a_send_on(error: ErrorInfo | None, expected: bool) -> None:
    assert is_provider_failure(error) is expected


# -- failover ----------------------------------------------------------------------------------
def test_a_message_routed_past_a_provider_that_is_down_is_sent_once_by_the_next(
        b: TwilioSandbox) -> None:
    down = twilio(f"http://127.0.0.1:{free_port()}")
    router = FailoverConnector([down, on(b)])
    result = router.blocking().send_message(hi())
    data = result.unwrap()
    assert [m.sid for m in b.messages] == [data.remote_message_id]
    assert data.additional_data["routed_via"] == "twilio/sms"
    assert data.additional_data["route_index"] == 1
    [attempt] = data.additional_data["failed_over"]
    assert attempt["member"] == "0:twilio/sms" and attempt["error_code"] == M.CONNECTION_FAILED
    router.blocking().shutdown()


def test_bad_credentials_fail_over(a: TwilioSandbox, b: TwilioSandbox) -> None:
    wrong = twilio(a.base_url, a.account_sid, "x" * 32)
    router = FailoverConnector([wrong, on(b)])
    result = router.blocking().send_message(hi())
    assert result.is_success, result.error
    assert (len(a.messages), len(b.messages)) == (0, 1)
    assert result.unwrap().additional_data["failed_over"][0]["error_code"] == \
        M.INVALID_CREDENTIALS
    router.blocking().shutdown()


def test_a_recipient_error_never_fails_over(a: TwilioSandbox, b: TwilioSandbox) -> None:
    router = FailoverConnector([on(a), on(b)])
    result = router.blocking().send_message(hi(to="+15005550001"))  # 21211 invalid 'To'
    assert result.error is not None and result.error.code == M.INVALID_RECIPIENT
    assert result.error.details["routed_via"] == "twilio/sms"
    assert len(b.messages) == 0
    assert not router.health[0].is_open  # the provider answered: it is up
    router.blocking().shutdown()


def test_a_send_that_may_have_been_accepted_never_fails_over(b: TwilioSandbox) -> None:
    server = Answering(500)
    try:
        router = FailoverConnector([twilio(server.url), on(b)])
        result = router.blocking().send_message(hi())
        assert result.error is not None and result.error.outcome_unknown
        assert (server.requests, len(b.messages)) == (1, 0)
        router.blocking().shutdown()
    finally:
        server.close()


def test_a_503_is_not_taken_so_the_next_member_sends(b: TwilioSandbox) -> None:
    server = Answering(503)
    try:
        router = FailoverConnector([twilio(server.url), on(b)])
        assert router.blocking().send_message(hi()).is_success
        assert (server.requests, len(b.messages)) == (1, 1)
        router.blocking().shutdown()
    finally:
        server.close()


def test_a_failed_member_cools_down_then_one_trial_brings_it_back(b: TwilioSandbox) -> None:
    clock = Clock()
    port = free_port()
    sid, token = "AC" + "2" * 32, "k" * 32
    first = twilio(f"http://127.0.0.1:{port}", sid, token)
    router = FailoverConnector([first, on(b)], cooldown=60, clock=clock)
    blocking = router.blocking()
    assert blocking.send_message(hi()).unwrap().additional_data["route_index"] == 1
    assert router.health[0].is_open and router.health[0].wait() == 60
    # while it cools down the first member is not even tried
    again = blocking.send_message(hi()).unwrap()
    assert again.additional_data["route_index"] == 1 and "failed_over" not in \
        again.additional_data
    with TwilioSandbox(port=port, account_sid=sid, auth_token=token) as revived:
        clock.now += 61  # half-open: one trial
        back = blocking.send_message(hi()).unwrap()
        assert back.additional_data["route_index"] == 0
        assert not router.health[0].is_open
        assert [m.sid for m in revived.messages] == [back.remote_message_id]
        assert len(b.messages) == 2
        blocking.shutdown()


def test_a_failed_trial_opens_the_circuit_again() -> None:
    clock = Clock()
    server = Answering(503)
    try:
        router = FailoverConnector([twilio(server.url)], cooldown=10, clock=clock)
        blocking = router.blocking()
        first = blocking.send_message(hi())
        assert first.error is not None and first.error.code == M.MESSAGE_ROUTING_FAILED
        assert first.error.details["attempts"][0]["member"] == "0:twilio/sms"
        cooling = blocking.send_message(hi())  # nothing tried: every member cools down
        assert cooling.error is not None and cooling.error.retry_after == 10
        assert server.requests == 1
        clock.now += 11
        blocking.send_message(hi())
        assert server.requests == 2 and router.health[0].wait() == 10
        blocking.shutdown()
    finally:
        server.close()


def test_failover_over_the_async_driver_too(b: TwilioSandbox) -> None:
    async def main() -> list[str | None]:
        async with FailoverConnector([twilio(f"http://127.0.0.1:{free_port()}"), on(b)]) as r:
            results = [item.result async for item in r.send_batch([hi(), hi(), hi()])]
            return [x.unwrap().remote_message_id for x in results]

    sids = asyncio.run(main())
    assert sorted(m.sid for m in b.messages) == sorted(s or "" for s in sids)


# -- round robin -------------------------------------------------------------------------------
def test_round_robin_spreads_sends_and_skips_a_member_that_is_down(
        a: TwilioSandbox, b: TwilioSandbox) -> None:
    router = RoundRobinConnector([on(a), on(b)])
    for _ in range(4):
        router.blocking().send_message(hi()).unwrap()
    assert (len(a.messages), len(b.messages)) == (2, 2)
    router.blocking().shutdown()

    down = RoundRobinConnector([twilio(f"http://127.0.0.1:{free_port()}"), on(b)])
    for _ in range(4):
        assert down.blocking().send_message(hi()).is_success
    assert len(b.messages) == 2 + 4
    assert down.health[0].failures == 1  # tried once, then skipped while cooling down
    down.blocking().shutdown()


# -- status queries and webhooks ---------------------------------------------------------------
def test_a_status_query_goes_to_the_member_that_sent(a: TwilioSandbox,
                                                     b: TwilioSandbox) -> None:
    router = RoundRobinConnector([on(a), on(b)])
    blocking = router.blocking()
    sids = [blocking.send_message(hi()).unwrap().remote_message_id or "" for _ in range(2)]
    for sid in sids:
        update = blocking.get_message_status(sid).unwrap()
        member = router.sent_by(sid)
        assert member is not None
        assert update.additional_data["route_index"] == router.members.index(member)
    # an id the router did not send: each member is asked until one knows it
    other = on(b).blocking()
    sid = other.send_message(hi()).unwrap().remote_message_id or ""
    assert blocking.get_message_status(sid).unwrap().additional_data["route_index"] == 1
    other.shutdown()
    blocking.shutdown()


def test_a_webhook_is_parsed_by_the_member_whose_signature_verifies() -> None:
    first, second = twilio("http://127.0.0.1:1", token="1" * 32), twilio(
        "http://127.0.0.1:1", token="2" * 32)
    router = FailoverConnector([first, second])
    url = "https://app.example.com/sms"
    fields = {"MessageSid": "SM" + "a" * 32, "AccountSid": "AC" + "1" * 32, "From": THEM,
              "To": US, "Body": "hello", "NumMedia": "0"}
    signature = compute_signature("2" * 32, url, fields)
    source = MessageSource.url_post(urlencode(fields), url=url,
                                    headers={"X-Twilio-Signature": signature})
    received = router.blocking().receive_messages(source).unwrap()
    assert [m.content.text for m in received.messages] == ["hello"]  # type: ignore[union-attr]
    forged = MessageSource.url_post(urlencode(fields), url=url,
                                    headers={"X-Twilio-Signature": "bad"})
    refused = router.blocking().receive_messages(forged)
    assert refused.error is not None and refused.error.code == M.INVALID_WEBHOOK_SIGNATURE


# -- schema, lifecycle, DSNs -------------------------------------------------------------------
def test_a_routed_connector_supports_what_all_members_support(a: TwilioSandbox) -> None:
    kestrel = KestrelSmsConnector(settings={"ApiKey": "k" * 20})
    router = FailoverConnector([on(a), kestrel])
    caps = router.schema.capabilities
    assert caps == on(a).schema.capabilities & kestrel.schema.capabilities
    assert router.schema.provider == "routing" and router.schema.type == "failover"
    for endpoint in router.schema.endpoints:
        assert on(a).schema.endpoint(endpoint.type) is not None
        assert kestrel.schema.endpoint(endpoint.type) is not None
    for prop in router.schema.message_properties:
        assert kestrel.schema.message_property(prop.name) is not None
    assert not router.supports(ChannelCapability.MESSAGE_STATUS_QUERY) or (
        kestrel.supports(ChannelCapability.MESSAGE_STATUS_QUERY))


def test_a_member_configuration_error_is_the_routers(b: TwilioSandbox) -> None:
    router = FailoverConnector([TwilioSmsConnector(settings={"AccountSid": "nope"}), on(b)])
    result = router.blocking().initialize()
    assert result.error is not None and result.error.code == M.INVALID_CONFIGURATION
    assert result.error.message.startswith("member 0:twilio/sms: ")
    assert len(b.messages) == 0


def test_shutdown_shuts_every_member_down(a: TwilioSandbox, b: TwilioSandbox) -> None:
    members = [on(a), on(b)]
    router = FailoverConnector(members)
    router.blocking().send_message(hi()).unwrap()
    assert router.blocking().shutdown().is_success
    assert [m.state.value for m in members] == ["shutdown", "shutdown"]


def _dsn(box: TwilioSandbox, token: str | None = None) -> str:
    return (f"twilio://{box.account_sid}:{token or box.auth_token}@default"
            f"?BaseUrl={quote(box.base_url, safe='')}&MaxRetries=0")


def test_routing_dsns(a: TwilioSandbox, b: TwilioSandbox) -> None:
    router = ratatosk.connect(f"failover({_dsn(a, 'x' * 32)} {_dsn(b)})", cooldown=5)
    assert isinstance(router, FailoverConnector) and router.cooldown == 5
    assert router.blocking().send_message(hi()).is_success
    assert (len(a.messages), len(b.messages)) == (0, 1)
    router.blocking().shutdown()

    symfony = ratatosk.connect(f"{_dsn(a)} && {_dsn(b)}")
    assert isinstance(symfony, RoundRobinConnector) and len(symfony.members) == 2
    assert isinstance(ratatosk.connect(f"{_dsn(a)} || {_dsn(b)}"), FailoverConnector)

    nested = ratatosk.connect(f"failover(roundrobin({_dsn(a)} {_dsn(b)}) {_dsn(b)})")
    assert isinstance(nested, FailoverConnector)
    assert isinstance(nested.members[0], RoundRobinConnector)
    nested.blocking().send_message(hi()).unwrap()
    assert len(a.messages) + len(b.messages) == 2
    nested.blocking().shutdown()


@pytest.mark.parametrize(("target", "problem"), [
    ("failover()", "lists no connector"),
    ("twilio://AC1:secret@default || vonage://k:secret@default && twilio://AC2:s@default",
     "mixes"),
    ("failover(twilio://AC1:secret@default", "unbalanced"),
])
def test_bad_routing_dsns_are_configuration_errors(target: str, problem: str) -> None:
    with pytest.raises(MessagingError) as caught:
        ratatosk.connect(target)
    assert caught.value.error.code == M.INVALID_CONFIGURATION
    assert problem in caught.value.error.message
    assert "secret" not in caught.value.error.message


def test_settings_belong_to_each_member() -> None:
    with pytest.raises(MessagingError) as caught:
        ratatosk.connect("failover(twilio://AC1:s@default twilio://AC2:s@default)",
                         settings={"MaxRetries": 1})
    assert "each member" in caught.value.error.message


def test_a_router_needs_connectors() -> None:
    with pytest.raises(ValueError):
        FailoverConnector([])
    with pytest.raises(TypeError):
        FailoverConnector(["twilio://x"])  # type: ignore[list-item]


# -- two providers -----------------------------------------------------------------------------
def test_failover_from_twilio_down_to_vonage_by_dsn(b: TwilioSandbox) -> None:
    """The issue's "done when": routed failover(A B) with A down, the message is sent once, by
    B; then A comes back (a 503 outage ends) and takes the next send."""
    from ratatosk_vonage.sandbox import VonageSandbox, dsn_for

    clock = Clock()
    with VonageSandbox() as vonage:
        router = ratatosk.connect(
            f"failover({_dsn(b)} {dsn_for(vonage)})", cooldown=30, clock=clock)
        assert isinstance(router, FailoverConnector)
        b.fail_next(503, 20503)  # Twilio is in an outage
        result = router.blocking().send_message(hi())
        data = result.unwrap()
        assert data.additional_data["routed_via"] == "vonage/messages"
        assert [m.id for m in vonage.messages] == [data.remote_message_id]
        assert len(b.messages) == 0
        # while Twilio cools down, Vonage keeps sending; after the cool-down Twilio rejoins
        assert router.blocking().send_message(hi()).unwrap().additional_data[
            "routed_via"] == "vonage/messages"
        clock.now += 31
        back = router.blocking().send_message(hi()).unwrap()
        assert back.additional_data["routed_via"] == "twilio/sms"
        assert (len(b.messages), len(vonage.messages)) == (1, 2)
        # Vonage offers no status query, so the routed connector does not either
        query = router.blocking().get_message_status(back.remote_message_id or "")
        assert query.error is not None
        assert query.error.code == ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED
        router.blocking().shutdown()


def test_a_recipient_error_at_vonage_never_fails_over_to_twilio(b: TwilioSandbox) -> None:
    from ratatosk_vonage.sandbox import VonageSandbox, dsn_for

    with VonageSandbox() as vonage:
        router = ratatosk.connect(f"{dsn_for(vonage)} || {_dsn(b)}")
        vonage.fail_next("invalid_number")  # 422 "invalid params": the `to` is not valid
        result = router.blocking().send_message(hi())
        assert result.error is not None and not is_provider_failure(result.error)
        assert result.error.code == M.INVALID_MESSAGE
        assert result.error.details["routed_via"] == "vonage/messages"
        assert len(b.messages) == 0
        router.blocking().shutdown()
