"""X-Twilio-Signature: the published vector, ports, repeated keys, JSON bodies, rotation, and a
cross-check against twilio-python's RequestValidator."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ratatosk_twilio.signature import (
    SIGNATURE_HEADER,
    _url_variants,
    body_sha256,
    compute_signature,
    validate_signature,
)

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


class GetList(Mapping[str, str]):
    """A multi-dict in the Werkzeug/Django style (``getlist``), for twilio-python too."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: str) -> str:
        return next(value for name, value in self._pairs if name == key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __len__(self) -> int:
        return len(dict.fromkeys(name for name, _ in self._pairs))

    def getlist(self, key: str) -> list[str]:
        return [value for name, value in self._pairs if name == key]


# --- the published test vector ------------------------------------------------------------------


def test_published_vector() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == EXPECTED
    assert validate_signature(TOKEN, URL, PARAMS, EXPECTED)
    assert RequestValidator(TOKEN).compute_signature(URL, PARAMS) == EXPECTED
    assert SIGNATURE_HEADER == "X-Twilio-Signature"


def test_params_shapes_are_equivalent() -> None:
    pairs = list(PARAMS.items())
    assert compute_signature(TOKEN, URL, pairs) == EXPECTED
    assert compute_signature(TOKEN, URL, list(reversed(pairs))) == EXPECTED
    assert compute_signature(TOKEN, URL, {k: [v] for k, v in PARAMS.items()}) == EXPECTED
    assert compute_signature(TOKEN, URL, GetList(pairs)) == EXPECTED
    assert compute_signature(TOKEN, URL, None) == compute_signature(TOKEN, URL, [])
    assert compute_signature(TOKEN, URL) == compute_signature(TOKEN, URL, {})


def test_url_alone_is_hmac_of_url() -> None:
    import base64
    import hmac

    digest = hmac.new(b"secret", URL.encode(), hashlib.sha1).digest()
    assert compute_signature("secret", URL) == base64.b64encode(digest).decode()


# --- ports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        ("https://example.com/sms", "https://example.com:443/sms"),
        ("https://example.com:443/sms", "https://example.com/sms"),
        ("http://example.com/sms?x=1", "http://example.com:80/sms?x=1"),
        ("http://example.com:80/sms?x=1", "http://example.com/sms?x=1"),
        ("https://user:pa:ss@example.com/sms", "https://user:pa:ss@example.com:443/sms"),
        ("https://[2001:db8::1]/sms", "https://[2001:db8::1]:443/sms"),
        ("https://example.com", "https://example.com:443"),
    ],
)
def test_default_port_added_or_removed(signed: str, received: str) -> None:
    signature = compute_signature(TOKEN, signed, PARAMS)
    assert validate_signature(TOKEN, received, PARAMS, signature)


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        ("https://example.com/sms", "https://example.com:8443/sms"),
        ("https://example.com:8443/sms", "https://example.com/sms"),
        ("https://example.com/sms", "https://example.com:80/sms"),  # wrong default for https
        ("http://example.com/sms", "http://example.com:443/sms"),
        ("https://example.com/sms", "http://example.com/sms"),
    ],
)
def test_other_ports_and_schemes_are_not_interchangeable(signed: str, received: str) -> None:
    signature = compute_signature(TOKEN, signed, PARAMS)
    assert not validate_signature(TOKEN, received, PARAMS, signature)


def test_url_variants() -> None:
    assert _url_variants("https://a.example/x") == [
        "https://a.example/x",
        "https://a.example:443/x",
    ]
    assert _url_variants("HTTP://a.example:80?q#f") == [
        "HTTP://a.example:80?q#f",
        "HTTP://a.example?q#f",
    ]
    assert _url_variants("https://a.example:8443/") == ["https://a.example:8443/"]
    assert _url_variants("not a url") == ["not a url"]
    assert _url_variants("ftp://a.example/") == ["ftp://a.example/"]
    assert _url_variants("https://[::1/") == ["https://[::1/"]


# --- repeated keys and decoding ----------------------------------------------------------------


def test_repeated_keys() -> None:
    url = "https://example.com/mms"
    pairs = [
        ("MediaUrl", "https://b.example/2.jpg"),
        ("Body", "hi"),
        ("MediaUrl", "https://a.example/1.jpg"),
    ]
    signature = compute_signature(TOKEN, url, pairs)
    # values of a repeated name are sorted: the order they arrive in does not matter
    assert compute_signature(TOKEN, url, list(reversed(pairs))) == signature
    mapping = {
        "Body": "hi",
        "MediaUrl": ["https://a.example/1.jpg", "https://b.example/2.jpg"],
    }
    assert compute_signature(TOKEN, url, mapping) == signature
    expected_payload = (
        url + "Bodyhi" + "MediaUrlhttps://a.example/1.jpg" + "MediaUrlhttps://b.example/2.jpg"
    )
    import base64
    import hmac

    raw = hmac.new(TOKEN.encode(), expected_payload.encode(), hashlib.sha1).digest()
    assert signature == base64.b64encode(raw).decode()
    assert validate_signature(TOKEN, url, pairs, signature)
    assert compute_signature(TOKEN, url, GetList(pairs)) == signature
    assert RequestValidator(TOKEN).compute_signature(url, GetList(pairs)) == signature
    # dropping one of the repeated values breaks it
    assert not validate_signature(TOKEN, url, pairs[:2], signature)


def test_identical_repeated_values_count_once_as_in_the_official_library() -> None:
    url = "https://example.com/x"
    pairs = [("Tag", "a"), ("Tag", "a"), ("Tag", "b")]
    ours = compute_signature(TOKEN, url, pairs)
    assert ours == RequestValidator(TOKEN).compute_signature(url, GetList(pairs))
    assert ours == compute_signature(TOKEN, url, [("Tag", "b"), ("Tag", "a")])
    assert RequestValidator(TOKEN).validate(url, GetList(pairs), ours)
    assert validate_signature(TOKEN, url, pairs, ours)
    # a signer that counted every copy (older versions of this library) is still accepted
    import base64
    import hmac

    every_copy = base64.b64encode(hmac.new(
        TOKEN.encode(), (url + "TagaTagaTagb").encode(), hashlib.sha1).digest()).decode()
    assert every_copy != ours and validate_signature(TOKEN, url, pairs, every_copy)


def test_plus_and_space_in_decoded_params() -> None:
    url = "https://example.com/sms"
    raw_body = "Body=Hello+World%21+1%2B1%3D2&From=%2B14155551234"
    decoded = parse_qsl(raw_body, keep_blank_values=True)
    assert decoded == [("Body", "Hello World! 1+1=2"), ("From", "+14155551234")]
    signature = compute_signature(TOKEN, url, decoded)
    assert signature == RequestValidator(TOKEN).compute_signature(url, dict(decoded))
    assert validate_signature(TOKEN, url, decoded, signature)
    undecoded = [tuple(part.split("=", 1)) for part in raw_body.split("&")]
    assert not validate_signature(TOKEN, url, undecoded, signature)  # type: ignore[arg-type]


def test_empty_values_and_names_count() -> None:
    url = "https://example.com/sms"
    with_empty = compute_signature(TOKEN, url, {"Body": "", "From": "x"})
    assert with_empty != compute_signature(TOKEN, url, {"From": "x"})
    assert validate_signature(TOKEN, url, {"Body": "", "From": "x"}, with_empty)


# --- JSON bodies ---------------------------------------------------------------------------------


def test_body_sha256_helper() -> None:
    body = b'{"a":1}'
    assert body_sha256(body) == hashlib.sha256(body).hexdigest()
    assert body_sha256(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_json_body_hash() -> None:
    body = b'{"MessageSid":"SM123","Body":"hi \xf0\x9f\x98\x80"}'
    url = "https://example.com/hook?" + urlencode({"x": "1", "bodySHA256": body_sha256(body)})
    signature = compute_signature(TOKEN, url)
    assert validate_signature(TOKEN, url, None, signature, body=body)
    # params are ignored for a JSON body
    assert validate_signature(TOKEN, url, {"Injected": "1"}, signature, body=body)
    # port variants still apply
    with_port = url.replace("example.com", "example.com:443")
    assert validate_signature(TOKEN, with_port, None, signature, body=body)
    # the body must match its hash, and must be given
    assert not validate_signature(TOKEN, url, None, signature, body=body + b" ")
    assert not validate_signature(TOKEN, url, None, signature)
    # twilio-python agrees
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, body.decode(), signature)


def test_json_body_hash_case_insensitive_hex() -> None:
    body = b"{}"
    url = "https://example.com/hook?bodySHA256=" + body_sha256(body).upper()
    signature = compute_signature(TOKEN, url)
    assert validate_signature(TOKEN, url, None, signature, body=body)


def test_json_body_hash_tampered_url() -> None:
    body = b"{}"
    url = "https://example.com/hook?bodySHA256=" + body_sha256(body)
    other = b'{"evil":true}'
    forged = "https://example.com/hook?bodySHA256=" + body_sha256(other)
    signature = compute_signature(TOKEN, url)
    assert not validate_signature(TOKEN, forged, None, signature, body=other)


# --- rotation, tampering, bad input -------------------------------------------------------------


def test_token_rotation() -> None:
    old, new = "old-token", "new-token"
    signed_old = compute_signature(old, URL, PARAMS)
    signed_new = compute_signature(new, URL, PARAMS)
    assert validate_signature([new, old], URL, PARAMS, signed_old)
    assert validate_signature((new, old), URL, PARAMS, signed_new)
    assert not validate_signature([new], URL, PARAMS, signed_old)
    assert not validate_signature("other", URL, PARAMS, signed_new)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (URL.replace("foo=1", "foo=2"), PARAMS),
        (URL.replace("https", "http"), PARAMS),
        (URL + "&extra=1", PARAMS),
        (URL, {**PARAMS, "Digits": "1235"}),
        (URL, {**PARAMS, "Extra": ""}),
        (URL, {k: v for k, v in PARAMS.items() if k != "To"}),
        (URL, {**PARAMS, "to": PARAMS["To"]}),
    ],
)
def test_tampering_fails(url: str, params: dict[str, str]) -> None:
    assert not validate_signature(TOKEN, url, params, EXPECTED)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "   ",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8",
        "rsoydt4t1cutdk1pdd93/vvr8b8=",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=x",
        "ü",
        "\ud800",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=\x00",
    ],
)
def test_bad_signatures_are_false(signature: str | None) -> None:
    assert not validate_signature(TOKEN, URL, PARAMS, signature)


def test_signature_whitespace_is_tolerated() -> None:
    assert validate_signature(TOKEN, URL, PARAMS, f" {EXPECTED}\r\n")


@pytest.mark.parametrize("tokens", ["", [], [""], ("", "")])
def test_no_usable_token_is_false(tokens: str | list[str] | tuple[str, ...]) -> None:
    assert not validate_signature(tokens, URL, PARAMS, EXPECTED)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("", {}),
        ("http://h:abc/", {}),
        ("https://[bad/", {"a": "b"}),
        ("https://exämple.com/π?q=ü", {"Body": "héllo 😀", "Ünïcode": "✓"}),
        ("https://example.com/?bodySHA256=", {}),
        ("https://example.com/", {"Body": "\ud800"}),
        ("https://example.com/", [("a", "b"), ("a", "b")]),
        ("https://example.com/", {"File": object()}),
        (None, {}),
    ],
)
def test_bad_input_never_raises(url: str, params: dict[str, str]) -> None:
    assert validate_signature(TOKEN, url, params, EXPECTED) is False


def test_non_ascii_round_trip() -> None:
    url = "https://exämple.com/π?q=ü"
    params = {"Body": "héllo 😀", "Ünïcode": "✓"}
    signature = compute_signature("tökén", url, params)
    assert validate_signature("tökén", url, params, signature)
    assert RequestValidator("tökén").compute_signature(url, params) == signature


def test_compute_rejects_wrong_types() -> None:
    with pytest.raises(TypeError):
        compute_signature(TOKEN, URL, {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compute_signature(b"token", URL)  # type: ignore[arg-type]


# --- cross-check with twilio-python --------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=30)
_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
_hosts = st.lists(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), min_size=1, max_size=3).map(
    ".".join
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(_hosts)
    port = draw(st.sampled_from(["", ":443" if scheme == "https" else ":80"]))
    path = draw(st.from_regex(r"(/[A-Za-z0-9._~%-]{0,8}){0,3}", fullmatch=True))
    query = draw(st.dictionaries(_names.filter(lambda n: n != "bodySHA256"), _text, max_size=3))
    url = f"{scheme}://{host}{port}{path}"
    return url + ("?" + urlencode(query) if query else "")


_tokens = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(_tokens, _urls(), st.dictionaries(_names, _text, max_size=8))
def test_cross_check_single_values(token: str, url: str, params: dict[str, str]) -> None:
    theirs = RequestValidator(token)
    signature = compute_signature(token, url, params)
    assert signature == theirs.compute_signature(url, params)
    assert theirs.validate(url, params, signature)
    assert validate_signature(token, url, params, signature)
    for variant in _url_variants(url):
        assert validate_signature(token, variant, params, signature)
        assert theirs.validate(variant, params, signature)


@SETTINGS
@given(_tokens, _urls(), st.dictionaries(_names, st.lists(_text, max_size=4)))
def test_cross_check_repeated_values(token: str, url: str, params: dict[str, list[str]]) -> None:
    """Repeated names, with different and identical values: the same as twilio-python."""
    pairs = [(name, value) for name, values in params.items() for value in values]
    signature = compute_signature(token, url, pairs)
    assert signature == compute_signature(token, url, params)
    theirs = RequestValidator(token)
    assert signature == theirs.compute_signature(url, GetList(pairs))
    assert validate_signature(token, url, GetList(pairs), signature)


@SETTINGS
@given(_tokens, _urls(), st.text(st.characters(codec="utf-8"), max_size=200))
def test_cross_check_json_bodies(token: str, url: str, text: str) -> None:
    body = text.encode()
    separator = "&" if "?" in url else "?"
    full = f"{url}{separator}bodySHA256={body_sha256(body)}"
    signature = compute_signature(token, full)
    assert validate_signature(token, full, None, signature, body=body)
    assert RequestValidator(token).validate(full, text, signature)  # twilio-python takes a str
    assert not validate_signature(token, full, None, signature, body=body + b"x")
    assert not RequestValidator(token).validate(full, text + "x", signature)


@SETTINGS
@given(_tokens, _urls(), st.dictionaries(_names, _text, max_size=5), _text)
def test_cross_check_tampering(token: str, url: str, params: dict[str, str], extra: str) -> None:
    signature = compute_signature(token, url, params)
    tampered = {**params, "Tampered": extra}
    assert not validate_signature(token, url, tampered, signature)
    assert not RequestValidator(token).validate(url, tampered, signature)
