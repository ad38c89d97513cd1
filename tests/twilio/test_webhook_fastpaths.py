"""The fast paths of the webhook and send code give exactly what the plain code gives.

Each fast path is checked against the straightforward computation it replaces: ``urlencode`` for
request bodies, ``hmac`` for signatures, ``urlsplit`` + ``parse_qs`` for ``bodySHA256``,
``datetime.isoformat`` for time stamps, grouping of repeated fields, ``resolve_public_url`` for
configured webhook URLs; and the per-connector webhook configuration follows setting changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ratatosk import HttpRequest, MessageBuilder, MessageSource, MessagingErrorCodes
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio._connector import _form_encode, _form_quote
from ratatosk_twilio._webhooks import (
    _ConfiguredUrl,
    _endpoint,
    _group,
    _iso_utc,
    _raw,
    _WebhookDataError,
    parse_inbound_message,
    resolve_public_url,
)
from ratatosk_twilio.signature import (
    _Keyring,
    _may_carry_body_hash,
    compute_signature,
    validate_signature,
)

SETTINGS = settings(max_examples=300, deadline=None)
ACCOUNT = "AC" + "0" * 32
SID = "SM" + "b" * 32
TOKEN = "fast-path-auth-token"
URL = "https://hooks.example.com/twilio/sms"

# any text, lone surrogates included (they cannot be encoded: both sides must fail alike)
_any_text = st.text(st.characters(), max_size=30)
_form_text = st.one_of(
    _any_text,
    st.lists(st.sampled_from(["+", " ", "%", "&", "=", "~", "-", "_", ".", "a", "Z", "0", "é",
                              "😀", "\n", "/", ":", "?"]), max_size=20).map("".join),
)


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except (UnicodeError, TypeError) as exc:
        return type(exc)


# -- request bodies ------------------------------------------------------------------------------


@SETTINGS
@given(_form_text)
@example("+15550001111")
@example("Hello from Ratatosk! 1+1=2 & more")
@example("\ud800")
def test_form_quote_is_quote_plus(text: str) -> None:
    assert _outcome(_form_quote, text) == _outcome(quote_plus, text, "")


@SETTINGS
@given(st.lists(st.tuples(_form_text, _form_text), max_size=6))
def test_form_encode_is_urlencode(pairs: list[tuple[str, str]]) -> None:
    assert _outcome(_form_encode, pairs) == _outcome(urlencode, pairs)


class _Text(str):
    def __str__(self) -> str:
        return "shown"


@pytest.mark.parametrize(
    "pairs",
    [
        [("To", "+15550001111"), ("Body", "héllo wörld")],
        [("Count", 3)],  # not str: urlencode decides (str(3))
        [("Raw", b"a b+c")],
        [(_Text("name"), "value")],  # a str subclass: urlencode calls str() on it
        [],
    ],
)
def test_form_encode_falls_back_for_other_types(pairs: list[Any]) -> None:
    assert _form_encode(pairs) == urlencode(pairs)


async def test_send_request_body_is_urlencoded() -> None:
    connector = TwilioSmsConnector(settings={"AccountSid": ACCOUNT, "AuthToken": TOKEN,
                                             "StatusCallback": "https://cb.example/s?a=1&b=2"})
    await connector.initialize()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_text("Grüße & 1+1=2 😀").with_property("ValidityPeriod", 600).build())
    request = connector._prepare(message)
    assert isinstance(request, HttpRequest)
    expected = urlencode([("To", "+15550002222"), ("From", "+15550001111"),
                          ("Body", "Grüße & 1+1=2 😀"), ("ValidityPeriod", "600"),
                          ("StatusCallback", "https://cb.example/s?a=1&b=2")])
    assert request.content == expected.encode("ascii")


# -- signatures ----------------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=150), st.binary(max_size=40), st.binary(max_size=300))
@example(b"k" * 64, b"https://a", b"x")  # a key exactly one block long
@example(b"k" * 65, b"https://a", b"x")  # longer keys are hashed first
def test_keyring_hmac_is_hmac_sha1(key: bytes, url: bytes, rest: bytes) -> None:
    token = key.decode("latin-1")  # any str token; its UTF-8 bytes are the key
    expected = base64.b64encode(hmac.new(token.encode("utf-8", "surrogatepass"), url + rest,
                                         hashlib.sha1).digest())
    keyring = _Keyring.of([token])
    assert keyring.matches([url], rest, expected)
    assert keyring.matches([url], rest, expected)  # from the cached per-URL state too
    assert not keyring.matches([url], rest + b"!", expected)
    assert not keyring.matches([url + b"/"], rest, expected)


def test_keyring_per_url_states_stay_bounded_and_correct() -> None:
    keyring = _Keyring.of(["one", "two"])
    for index in range(100):
        url = f"https://hooks.example.com/{index}"
        signature = compute_signature("two", url, {"Body": str(index)})
        assert keyring.verify(url, [("Body", str(index))], signature.encode(), None)
        assert not keyring.verify(url, [("Body", "other")], signature.encode(), None)
    assert len(keyring._by_url) <= 32


def test_every_token_and_url_variant_is_tried() -> None:
    params = {"Body": "hi", "From": "+15550001111"}
    for signed_url, received in [(URL, URL), (URL, URL.replace(".com/", ".com:443/")),
                                 (URL.replace(".com/", ".com:443/"), URL)]:
        signature = compute_signature("second", signed_url, params)
        assert validate_signature(["first", "second"], received, params, signature)
        assert validate_signature(("second", "first"), received, params, signature)
        assert not validate_signature(["first", "third"], received, params, signature)


def test_a_non_str_token_is_a_programming_error_even_after_a_match() -> None:
    signature = compute_signature(TOKEN, URL, {"a": "b"})
    with pytest.raises(TypeError):
        validate_signature([TOKEN, 5], URL, {"a": "b"}, signature)  # type: ignore[list-item]
    # ... but a request that fails before any HMAC is computed answers False, as before
    body_url = URL + "?bodySHA256=" + "0" * 64
    assert validate_signature([TOKEN, 5], body_url, None, signature,  # type: ignore[list-item]
                              body=b"{}") is False


def _body_hash_by_parsing(url: str) -> str | None:
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    values = parse_qs(query, keep_blank_values=True).get("bodySHA256")
    return values[0] if values else None


_url_pieces = st.sampled_from([
    "https://a.example/x", "?", "&", "=", "#", "bodySHA256", "body", "SHA256", "%62", "%42",
    "%2", "%", "\t", "\r", "\n", "+", "b", "o", "d", "y", "S", "H", "A", "2", "5", "6", "[",
])


@SETTINGS
@given(st.lists(_url_pieces, max_size=14).map("".join))
@example("https://a.example/x?%62odySHA256=abc")
@example("https://a.example/x?body\tSHA256=abc")
@example("https://a.example/x?bodySHA%3256=abc")
def test_body_hash_shortcut_never_misses_one(url: str) -> None:
    if _body_hash_by_parsing(url) is not None:
        assert _may_carry_body_hash(url)


@SETTINGS
@given(st.lists(_url_pieces, max_size=14).map("".join), st.binary(max_size=20))
def test_json_body_hash_urls_validate_as_before(url: str, body: bytes) -> None:
    claimed = _body_hash_by_parsing(url)
    signature = compute_signature(TOKEN, url)
    matches = claimed is None or claimed.strip().lower() == hashlib.sha256(body).hexdigest()
    assert validate_signature(TOKEN, url, None, signature, body=body) is matches


# -- parsing -------------------------------------------------------------------------------------


def _grouped(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for name, value in items:
        fields.setdefault(name, []).append(value)
    return fields


_items = st.lists(st.tuples(st.sampled_from(["A", "B", "C", "MessageSid", "From", "Body"]),
                            st.text(max_size=3)), max_size=12)


@SETTINGS
@given(_items)
def test_group_is_first_values_and_repeats_in_order(items: list[tuple[str, str]]) -> None:
    first, repeated = _group(items)
    fields = _grouped(items)
    assert list(first.items()) == [(name, values[0]) for name, values in fields.items()]
    assert list(repeated.items()) == [(name, values) for name, values in fields.items()
                                      if len(values) > 1]
    assert _group(iter(items)) == (first, repeated)


@SETTINGS
@given(_items, st.frozensets(st.sampled_from(["A", "B", "Body"])))
def test_raw_keeps_fields_verbatim(items: list[tuple[str, str]], skip: frozenset[str]) -> None:
    fields = _grouped(items)
    expected = {name: values[0] if len(values) == 1 else values
                for name, values in fields.items() if name not in skip}
    raw = _raw(*_group(items), skip)
    assert raw == expected
    assert list(raw) == list(expected)


def test_repeated_singular_fields_are_reported_in_order_of_appearance() -> None:
    items = [("MessageSid", SID), ("From", "+1555"), ("To", "+1666"), ("Body", "a"),
             ("AccountSid", ACCOUNT), ("Body", "b"), ("From", "+1777"), ("Tag", "x"),
             ("Tag", "y")]
    with pytest.raises(_WebhookDataError) as raised:
        parse_inbound_message(items)
    # first seen first (From before Body, though Body repeats first); Tag may repeat
    assert [issue.field for issue in raised.value.issues] == ["From", "Body"]


def test_repeated_unknown_fields_stay_lists() -> None:
    items = [("MessageSid", SID), ("From", "+15550001111"), ("To", "+15550002222"),
             ("Body", "hi"), ("Tag", "x"), ("Other", "1"), ("Tag", "y")]
    message = parse_inbound_message(items)
    assert message.properties["Tag"] == ["x", "y"]
    assert list(message.properties)[:2] == ["Tag", "Other"]


@pytest.mark.parametrize("address", ["+15550001111", "whatsapp:+15550001111", "ACME Inc",
                                     "messenger:12345", "12345", "a-b", "whatsapp:abc"])
def test_cached_endpoints_are_the_computed_ones(address: str) -> None:
    assert _endpoint(address) == _endpoint.__wrapped__(address)


@SETTINGS
@given(st.integers(min_value=0, max_value=253_402_300_799_999_999_999))
@example(1_700_000_000_000_000_000)
@example(1_700_000_000_000_001_000)
def test_iso_stamp_is_isoformat(ns: int) -> None:
    seconds, rest = divmod(ns, 1_000_000_000)
    when = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=rest // 1000)
    assert _iso_utc(ns) == when.isoformat()
    assert _iso_utc(ns) == when.isoformat()  # from the per-second cache


# -- the webhook URL and the per-connector configuration ------------------------------------------

_configured = st.sampled_from([
    URL, URL + "?tenant=7", " " + URL + " ", "https://[::1]:8443/p", "https://[bad/x", "",
    "http://h:80/p#frag", "https://h/p?", "not a url",
])
_request_urls = st.one_of(st.none(), st.sampled_from([
    URL, URL + "?a=1&b=2", "https://other.example/p?x=%20y", "https://[bad/x?y=1",
    "https://h/p?#f", "https://h/p#?q", "/relative?q=1", "",
]))


@SETTINGS
@given(_configured, _request_urls)
def test_configured_url_resolves_as_resolve_public_url(configured: str,
                                                       request: str | None) -> None:
    source = MessageSource.url_post(b"", url=request)
    expected = resolve_public_url(source, configured_url=configured or None)
    if configured:
        assert _ConfiguredUrl.of(configured).resolve(source) == expected


def _inbound_source(token: str, url: str = URL) -> MessageSource:
    params = [("MessageSid", SID), ("AccountSid", ACCOUNT), ("From", "+15550001111"),
              ("To", "+15550002222"), ("Body", "hello"), ("NumMedia", "0")]
    return MessageSource.url_post(urlencode(params), url=url, headers={
        "X-Twilio-Signature": compute_signature(token, url, params)})


async def test_configuration_follows_parameter_changes() -> None:
    connector = TwilioSmsConnector(settings={"AccountSid": ACCOUNT, "AuthToken": TOKEN,
                                             "WebhookUrl": URL})
    assert (await connector.receive_messages(_inbound_source(TOKEN))).is_success
    # the settings changed (e.g. a token rotation applied in place): the next webhook sees it
    connector.parameters["AuthToken"] = "rotated-token"
    result = await connector.receive_messages(_inbound_source(TOKEN))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE
    assert (await connector.receive_messages(_inbound_source("rotated-token"))).is_success
    # a list of secondary tokens changed in place is seen too
    connector.parameters["SecondaryAuthTokens"] = secondary = ["spare-one"]
    assert (await connector.receive_messages(_inbound_source("spare-one"))).is_success
    secondary.append("spare-two")
    assert (await connector.receive_messages(_inbound_source("spare-two"))).is_success
    # and a new WebhookUrl
    other = "https://new.example.com/hook"
    connector.parameters["WebhookUrl"] = other
    assert not (await connector.receive_messages(_inbound_source("rotated-token"))).is_success
    assert (await connector.receive_messages(_inbound_source("rotated-token", other))).is_success
    # configuration repr never shows the tokens
    config = connector._webhook_config()
    assert "rotated-token" not in repr(config) and "spare" not in repr(config)


async def test_tokens_applied_in_place_as_secrets_are_used() -> None:
    from ratatosk import Secret

    connector = TwilioSmsConnector(settings={"AccountSid": ACCOUNT, "AuthToken": TOKEN,
                                             "WebhookUrl": URL})
    assert (await connector.initialize()).is_success
    connector.parameters["AuthToken"] = Secret("rotated-secret")
    connector.parameters["SecondaryAuthTokens"] = [Secret("spare-secret")]
    assert (await connector.receive_messages(_inbound_source("rotated-secret"))).is_success
    assert (await connector.receive_messages(_inbound_source("spare-secret"))).is_success
    assert "rotated-secret" not in repr(connector.parameters)
