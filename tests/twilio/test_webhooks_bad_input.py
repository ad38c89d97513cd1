"""Bad webhook input: an INVALID_WEBHOOK_DATA (or _SIGNATURE) result, nothing raised, nothing
recorded, no hook fired."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ratatosk.hookspecs
from ratatosk import (
    Message,
    MessageSource,
    MessagingErrorCodes,
    StatusUpdate,
    hookimpl,
)
from ratatosk._dedup import InMemoryDeduplicationStore
from ratatosk.connector import BlockingConnector, Connector
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio._webhooks import DEFAULT_MAX_WEBHOOK_BODY_SIZE
from ratatosk_twilio.signature import compute_signature

TOKEN = "bad-input-token-1234"
URL = "https://hooks.example.com/twilio"
SID = "SM" + "c" * 32
DATA = MessagingErrorCodes.INVALID_WEBHOOK_DATA
SIGNATURE = MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE

class Counter:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
        self.calls += 1

    @hookimpl
    def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
        self.calls += 1


class Harness:
    """A blocking connector with its store and hook counter, checked after every bad request."""

    def __init__(self, **extra: Any) -> None:
        self.counter = Counter()
        manager = pluggy.PluginManager("ratatosk")
        manager.add_hookspecs(ratatosk.hookspecs)
        manager.register(self.counter)
        connector = TwilioSmsConnector(
            settings={"AccountSid": "AC" + "0" * 32, "AuthToken": TOKEN, "WebhookUrl": URL,
                      **extra},
            plugin_manager=manager)
        self.store = InMemoryDeduplicationStore()
        connector.dedup_store = self.store
        self.connector: BlockingConnector = connector.blocking()

    def both(self, source: MessageSource) -> list[str | None]:
        """Both operations' error codes; asserts nothing was recorded or observed."""
        codes = []
        for result in (self.connector.receive_messages(source),
                       self.connector.receive_message_status(source)):
            codes.append(result.error.code if result.error is not None else None)
        assert len(self.store) == 0, "a rejected webhook was recorded"
        assert self.counter.calls == 0, "a hook fired for a rejected webhook"
        return codes


def signed(pairs: Sequence[tuple[str, str]], *, body: bytes | None = None,
           content_type: str = "application/x-www-form-urlencoded") -> MessageSource:
    raw = urlencode(list(pairs)).encode() if body is None else body
    return MessageSource(raw, content_type=content_type, url=URL,
                         headers={"X-Twilio-Signature": compute_signature(TOKEN, URL, list(pairs))})


GOOD = [("MessageSid", SID), ("From", "+14155550100"), ("To", "+15005550006"),
        ("Body", "hi"), ("NumMedia", "0"), ("MessageStatus", "delivered")]


def test_the_good_request_is_good() -> None:
    harness = Harness()
    assert harness.connector.receive_messages(signed(GOOD)).is_success
    assert harness.connector.receive_message_status(signed(GOOD)).is_success


@pytest.mark.parametrize(
    ("pairs", "fields"),
    [
        ([p for p in GOOD if p[0] != "MessageSid"], {"MessageSid"}),
        ([p for p in GOOD if p[0] not in ("From", "To")], {"From", "To"}),
        ([(k, "" if k in ("MessageSid", "From", "To") else v) for k, v in GOOD],
         {"MessageSid", "From", "To"}),
        ([*GOOD, ("MessageSid", "SM2")], {"MessageSid"}),
        ([*GOOD, ("From", "+1999"), ("To", "+1888")], {"From", "To"}),
        ([("MessageSid", "S" * 500), *GOOD[1:]], {"MessageSid"}),
    ],
)
def test_missing_empty_or_repeated_required_fields(
    pairs: list[tuple[str, str]], fields: set[str]
) -> None:
    harness = Harness()
    message = harness.connector.receive_messages(signed(pairs))
    assert message.error is not None and message.error.code == DATA
    assert fields <= {issue.field for issue in message.error.issues}
    # status callbacks need only MessageSid and the status; From and To are kept when present
    if "MessageSid" in fields:
        update = harness.connector.receive_message_status(signed(pairs))
        assert update.error is not None and update.error.code == DATA
        assert "MessageSid" in {issue.field for issue in update.error.issues}
    assert len(harness.store) == 0 and harness.counter.calls == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ([("NumMedia", "abc")], "NumMedia"),
        ([("NumMedia", "-1")], "NumMedia"),
        ([("NumMedia", "100000")], "NumMedia"),
        ([("NumMedia", "2"), ("MediaUrl0", "https://m.example/1")], "MediaUrl1"),
        ([("NumMedia", "1"), ("MediaUrl0", "javascript:alert(1)")], "MediaUrl0"),
        ([("NumMedia", "1"), ("MediaUrl0", "https://m/1"), ("MediaUrl0", "https://m/2")],
         "MediaUrl0"),
        ([("Latitude", "nan"), ("Longitude", "1")], "Latitude"),
        ([("Latitude", "91"), ("Longitude", "1")], "Latitude"),
        ([("Latitude", "45")], "Longitude"),
        ([("Latitude", "45"), ("Longitude", "east")], "Longitude"),
        ([("Body", "again")], "Body"),
    ],
)
def test_malformed_inbound_fields(extra: list[tuple[str, str]], field: str) -> None:
    replaced = {k for k, _ in extra} - {"Body"}
    pairs = [p for p in GOOD if p[0] not in replaced and p[0] != "MessageStatus"] + extra
    harness = Harness()
    result = harness.connector.receive_messages(signed(pairs))
    assert result.error is not None and result.error.code == DATA
    assert field in {issue.field for issue in result.error.issues}
    assert len(harness.store) == 0 and harness.counter.calls == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ([("ErrorCode", "thirty")], "ErrorCode"),
        ([("ErrorCode", "1" * 20)], "ErrorCode"),
        ([("Price", "cheap")], "Price"),
        ([("Price", "NaN")], "Price"),
        ([("NumSegments", "two")], "NumSegments"),
        ([("MessageStatus", "sent")], "MessageStatus"),
    ],
)
def test_malformed_status_fields(extra: list[tuple[str, str]], field: str) -> None:
    harness = Harness()
    result = harness.connector.receive_message_status(signed([*GOOD, *extra]))
    assert result.error is not None and result.error.code == DATA
    assert field in {issue.field for issue in result.error.issues}
    assert len(harness.store) == 0 and harness.counter.calls == 0


def test_a_status_callback_without_a_status() -> None:
    pairs = [p for p in GOOD if p[0] != "MessageStatus"]
    result = Harness().connector.receive_message_status(signed(pairs))
    assert result.error is not None and result.error.code == DATA
    assert [i.field for i in result.error.issues] == ["MessageStatus"]


@pytest.mark.parametrize(
    "body",
    [b"Body=\xff\xfe&MessageSid=SM1", b"MessageSid=SM1&&From=x", b"MessageSid", b"&",
     b"Body=%FF%FE", "Body=caf\u00e9".encode("latin-1")],
)
def test_unreadable_bodies(body: bytes) -> None:
    harness = Harness()
    source = MessageSource(body, url=URL, headers={"X-Twilio-Signature": "c2ln"})
    assert harness.both(source) == [DATA, DATA]
    unsigned = MessageSource(body, url=URL)
    assert harness.both(unsigned) == [SIGNATURE, SIGNATURE]
    off = Harness(ValidateSignatures="false")
    assert off.both(MessageSource(body)) == [DATA, DATA]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json", "multipart/form-data; boundary=x", "", "application/xml"],
)
def test_the_wrong_content_type(content_type: str) -> None:
    harness = Harness()
    source = MessageSource(urlencode(GOOD).encode(), content_type=content_type, url=URL,
                           headers={"X-Twilio-Signature": compute_signature(TOKEN, URL)})
    assert harness.both(source) == [DATA, DATA]


def test_form_content_type_with_a_charset_is_a_form() -> None:
    source = signed(GOOD, content_type="application/x-www-form-urlencoded; charset=UTF-8")
    assert Harness().connector.receive_messages(source).is_success


@pytest.mark.parametrize("url", ["http://[::1/t", "", "http://[v1.x/t?a=1"])
def test_unusable_request_urls_are_signature_errors(url: str) -> None:
    source = MessageSource(urlencode(GOOD).encode(), url=url,
                           headers={"X-Twilio-Signature": compute_signature(TOKEN, url, GOOD)})
    harness = Harness(WebhookUrl=None, TrustForwardedHeaders="true")
    assert harness.both(source) == [SIGNATURE, SIGNATURE]


@pytest.mark.parametrize("value", ["maybe", "", "2"])
def test_an_unrecognised_validate_signatures_value_keeps_validation_on(value: str) -> None:
    from ratatosk_twilio._webhooks import _as_bool

    assert _as_bool(value, True) is True
    assert _as_bool(None, True) is True
    assert _as_bool("off", True) is False


def test_other_methods() -> None:
    source = MessageSource(urlencode(GOOD).encode(), method="PUT", url=URL,
                           headers={"X-Twilio-Signature": compute_signature(TOKEN, URL, GOOD)})
    assert Harness().both(source) == [DATA, DATA]


def test_huge_bodies() -> None:
    pairs = [*GOOD, ("Padding", "x" * DEFAULT_MAX_WEBHOOK_BODY_SIZE)]
    harness = Harness()
    result = harness.connector.receive_messages(signed(pairs))
    assert result.error is not None and result.error.code == DATA
    assert result.error.details["reason"] == "too_large"
    assert harness.both(signed(pairs)) == [DATA, DATA]
    small = Harness(MaxWebhookBodySize=1024)
    assert small.both(signed([*GOOD, ("Pad", "y" * 1000)])) == [DATA, DATA]
    assert Harness(MaxWebhookBodySize=10**6).connector.receive_messages(signed(pairs)).is_success


# -- random input -------------------------------------------------------------------------------

_headers = st.dictionaries(
    st.sampled_from(["X-Twilio-Signature", "I-Twilio-Idempotency-Token", "X-Forwarded-Proto",
                     "X-Forwarded-Host", "Content-Type", "X-Other"]),
    st.text(max_size=40),
)
_content_types = st.one_of(
    st.just("application/x-www-form-urlencoded"), st.just("application/json"), st.text(max_size=30)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=2048), content_type=_content_types, headers=_headers,
       url=st.one_of(st.none(), st.just(URL), st.text(max_size=50)))
def test_random_bytes_never_raise(
    body: bytes, content_type: str, headers: dict[str, str], url: str | None
) -> None:
    harness = Harness()
    source = MessageSource(body, content_type=content_type, url=url, headers=headers)
    assert set(harness.both(source)) <= {DATA, SIGNATURE}


_names = st.one_of(
    st.sampled_from(["MessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                     "MediaContentType0", "Latitude", "Longitude", "ButtonText", "MessageStatus",
                     "SmsStatus", "ErrorCode", "Price", "NumSegments", "RawDlrDoneDate"]),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(_names, st.text(max_size=30)), max_size=12))
def test_random_signed_forms_are_parsed_or_rejected_as_data(
    pairs: list[tuple[str, str]],
) -> None:
    harness = Harness()
    source = signed(pairs)
    for result in (harness.connector.receive_messages(source),
                   harness.connector.receive_message_status(source)):
        if result.error is not None:
            assert result.error.code == DATA
        else:
            assert result.data is not None
