"""Headers: one immutable, case-insensitive, multi-value header type for requests, responses and
inbound webhooks."""

from __future__ import annotations

import pickle

import pytest

from ratatosk import Headers, HttpRequest, HttpResponse, MessageSource


def test_built_from_a_mapping_or_pairs_and_iterated_as_pairs() -> None:
    from_mapping = Headers({"Content-Type": "text/plain", "X-A": "1"})
    from_pairs = Headers([("Content-Type", "text/plain"), ("X-A", "1")])
    assert list(from_mapping) == [("Content-Type", "text/plain"), ("X-A", "1")]
    assert from_mapping == from_pairs and len(from_pairs) == 2
    assert from_pairs.items() == (("Content-Type", "text/plain"), ("X-A", "1"))
    assert dict(from_pairs) == {"Content-Type": "text/plain", "X-A": "1"}
    assert Headers(from_pairs) is from_pairs  # immutable: reused as it is
    assert not Headers() and Headers() == Headers([]) == Headers({})


def test_lookups_ignore_case_and_keep_every_value() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("content-type", "text/xml"), ("SET-COOKIE", "b=2")])
    assert headers.get("set-cookie") == "a=1"  # the first
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers["Content-Type"] == "text/xml"
    assert "CONTENT-TYPE" in headers and "x-missing" not in headers
    assert headers.get("x-missing") is None and headers.get("x-missing", "d") == "d"
    assert headers.get_all("x-missing") == []
    with pytest.raises(KeyError):
        headers["x-missing"]


def test_equal_and_hash_ignore_the_case_of_names_not_of_values_or_order() -> None:
    a = Headers([("Accept", "application/json"), ("X-Id", "1")])
    b = Headers([("accept", "application/json"), ("x-id", "1")])
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Headers([("Accept", "APPLICATION/JSON"), ("X-Id", "1")])
    assert a != Headers([("X-Id", "1"), ("Accept", "application/json")])
    assert a != (("Accept", "application/json"), ("X-Id", "1"))  # not a tuple


def test_immutable_and_picklable() -> None:
    headers = Headers({"A": "1"})
    with pytest.raises(AttributeError):
        headers.extra = 1  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(headers)) == headers


def test_repr_masks_credentials() -> None:
    headers = Headers([("Authorization", "Basic c2VjcmV0"), ("Cookie", "s=secret"),
                       ("Accept", "*/*")])
    text = repr(headers)
    assert "c2VjcmV0" not in text and "secret" not in text
    assert "'Accept', '*/*'" in text
    request = HttpRequest("GET", "https://api.example/", headers)
    assert "c2VjcmV0" not in repr(request)


def test_requests_responses_and_sources_share_the_type() -> None:
    pairs = [("X-Twilio-Signature", "sig"), ("Content-Type", "x")]
    request = HttpRequest("POST", "https://api.example/", pairs)
    response = HttpResponse(200, {"retry-after": "3"})
    source = MessageSource.url_post("a=1", headers=dict(pairs))
    assert isinstance(request.headers, Headers) and isinstance(response.headers, Headers)
    assert isinstance(source.headers, Headers)
    assert request.headers == source.headers
    assert request.headers.get("x-twilio-signature") == source.header("X-TWILIO-SIGNATURE")
    assert response.header("Retry-After") == "3"
    assert HttpRequest("GET", "https://api.example/").headers == Headers()
    # a request built with the same Headers is equal (the transports cache on it)
    assert HttpRequest("POST", "https://a/", request.headers) == HttpRequest(
        "POST", "https://a/", Headers(pairs))
