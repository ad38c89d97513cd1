"""The helpers provider authors no longer write by hand: HTTP errors to standard codes, form
bodies, webhook fields read from a query string, a form or a JSON object in one call, and the
lazy loading of a plugin's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratatosk import ConnectorErrorCodes, MessagingErrorCodes
from ratatosk.provider import (
    STANDARD_HTTP_ERRORS,
    HttpResponse,
    InvalidSourceData,
    MessageSource,
    error_from_response,
    form_encode,
)

M = MessagingErrorCodes


def answer(status: int, **headers: str) -> HttpResponse:
    return HttpResponse(status, headers, b"{}")


@pytest.mark.parametrize(("status", "code", "retryable"), [
    (401, M.INVALID_CREDENTIALS, False),
    (402, M.INSUFFICIENT_FUNDS, False),
    (429, M.RATE_LIMITED, True),
    (403, M.SEND_MESSAGE_FAILED, False),
    (404, M.SEND_MESSAGE_FAILED, False),
    (422, M.SEND_MESSAGE_FAILED, False),
])
def test_standard_statuses(status: int, code: Any, retryable: bool) -> None:
    error = error_from_response(answer(status), provider="Acme")
    assert error.code == code and error.retryable is retryable
    assert error.outcome_unknown is False
    assert error.details["http_status"] == status
    assert error.message == f"Acme answered HTTP {status} when sending the message"
    assert STANDARD_HTTP_ERRORS.get(status, M.SEND_MESSAGE_FAILED) == code


def test_rate_limited_carries_retry_after() -> None:
    error = error_from_response(answer(429, **{"Retry-After": "7"}), provider="Acme")
    assert error.retryable and error.retry_after == 7.0
    assert error_from_response(answer(429), provider="Acme").retry_after is None


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_send_has_an_unknown_outcome_and_is_never_retried(status: int) -> None:
    error = error_from_response(answer(status, **{"Retry-After": "3"}), provider="Acme")
    assert error.code == M.SEND_MESSAGE_FAILED
    assert error.outcome_unknown and not error.retryable and error.retry_after is None
    assert error.message.endswith("the message may have been accepted, so it is not sent again")


def test_a_503_send_was_not_taken_so_it_is_retryable_after_retry_after() -> None:
    error = error_from_response(answer(503, **{"Retry-After": "3"}), provider="Acme")
    assert error.code == M.SEND_MESSAGE_FAILED
    assert error.retryable and not error.outcome_unknown and error.retry_after == 3.0


def test_a_5xx_fetch_is_retryable() -> None:
    error = error_from_response(answer(500), provider="Acme", action="fetching the status",
                                fallback=M.MESSAGING_ERROR, safe_to_repeat=True)
    assert error.code == M.MESSAGING_ERROR and error.retryable and not error.outcome_unknown
    assert error.message == "Acme answered HTTP 500 when fetching the status"


def test_the_providers_own_meaning_wins() -> None:
    # the provider's code decides: a 5xx that the provider explains is not "maybe sent"
    error = error_from_response(answer(500), provider="Acme", code=M.INVALID_RECIPIENT,
                                provider_code="21211", explanation="bad To", details={"x": 1})
    assert error.code == M.INVALID_RECIPIENT and not error.outcome_unknown
    assert error.provider_code == "21211"
    assert error.details == {"http_status": 500, "x": 1}
    assert error.message == "Acme answered HTTP 500 when sending the message: error 21211 (bad To)"
    # a status the provider gives its own meaning
    statuses = {401: ConnectorErrorCodes.AUTHENTICATION_FAILED, 422: M.INVALID_MESSAGE}
    assert error_from_response(answer(401), provider="Acme", statuses=statuses).code == \
        ConnectorErrorCodes.AUTHENTICATION_FAILED
    assert error_from_response(answer(422), provider="Acme", statuses=statuses).code == \
        M.INVALID_MESSAGE
    # a rate limit the provider signals with its own code is retryable too
    limited = error_from_response(answer(400, **{"Retry-After": "2"}), provider="Acme",
                                  code=M.RATE_LIMITED)
    assert limited.retryable and limited.retry_after == 2.0


@given(st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_form_encode_is_urlencode(pairs: list[tuple[str, str]]) -> None:
    try:
        expected = urlencode(pairs)
    except UnicodeEncodeError:  # a lone surrogate: both refuse it
        with pytest.raises(UnicodeEncodeError):
            form_encode(pairs)
        return
    assert form_encode(pairs) == expected


def test_form_encode_keeps_order_and_repeats() -> None:
    assert form_encode([("To", "+1 555"), ("MediaUrl", "a&b"), ("MediaUrl", "é")]) == \
        "To=%2B1+555&MediaUrl=a%26b&MediaUrl=%C3%A9"
    assert form_encode([("n", 1)]) == "n=1"  # type: ignore[list-item]


def test_field_items_from_a_get_query_string() -> None:
    source = MessageSource(b"", method="GET",
                           url="https://example.com/hook?msisdn=447700900000&text=hi+there"
                               "&empty=&flag&text=again#frag")
    assert source.field_items() == [("msisdn", "447700900000"), ("text", "hi there"),
                                    ("empty", ""), ("flag", ""), ("text", "again")]
    assert source.query_items() == source.field_items()
    assert MessageSource(b"", method="GET", url="https://example.com/hook").field_items() == []
    assert MessageSource(b"", method="GET").query_items() == []


def test_field_items_from_a_form_or_a_json_object() -> None:
    form = MessageSource.url_post("From=%2B15550001111&Body=Hi+%F0%9F%98%80")
    assert form.field_items() == [("From", "+15550001111"), ("Body", "Hi 😀")]
    data = MessageSource.json({"message_uuid": "u", "usage": {"price": "0.1"}})
    assert data.field_items() == [("message_uuid", "u"), ("usage", {"price": "0.1"})]
    typed = MessageSource(b'{"a": 1}', content_type="application/problem+json; charset=utf-8")
    assert typed.field_items() == [("a", 1)]


@pytest.mark.parametrize(("source", "problem"), [
    (MessageSource(b"", method="GET", url="https://e.com/h?text=%FF"), "not valid UTF-8"),
    (MessageSource.url_post(b"a=%FF"), "form"),
    (MessageSource.url_post(b"\xff"), "UTF-8"),
    (MessageSource.json("[1, 2]"), "not an object"),
    (MessageSource.json("{nope"), "not valid JSON"),
    (MessageSource.text("hello"), "text/plain"),
])
def test_unreadable_fields_are_one_clear_error(source: MessageSource, problem: str) -> None:
    with pytest.raises(InvalidSourceData, match=problem):
        source.field_items()


def test_lazy_callable_imports_its_target_on_first_call_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ratatosk.provider import lazy_callable

    (tmp_path / "ratatosk_lazy_probe.py").write_text(
        "calls = []\n"
        "def target(*args, **kw):\n"
        "    calls.append((*args, *kw.values()))\n"
        "    return len(calls)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ratatosk_lazy_probe", raising=False)
    fn = lazy_callable("ratatosk_lazy_probe:target")
    assert "ratatosk_lazy_probe" not in sys.modules and fn.__name__ == "target"
    assert fn(1, k=2) == 1 and fn(3) == 2
    assert sys.modules["ratatosk_lazy_probe"].calls == [(1, 2), (3,)]
    sys.modules.pop("ratatosk_lazy_probe")
    for bad in ("no_colon", "mod:", ":fn", "mod:not-a-name"):
        with pytest.raises(ValueError):
            lazy_callable(bad)
    missing = lazy_callable("ratatosk_no_such_module_xyz:f")
    with pytest.raises(ModuleNotFoundError):
        missing()
