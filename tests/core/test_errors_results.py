"""Error codes, ErrorInfo, MessagingError, Result and the result data classes."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

import pytest

from ratatosk import (
    BatchSendResult,
    ConnectorErrorCodes,
    ConnectorHealth,
    Err,
    ErrorCode,
    ErrorInfo,
    MessageStatus,
    MessagingError,
    MessagingErrorCodes,
    Ok,
    ReceiveResult,
    Result,
    SendResult,
    StatusInfo,
    StatusUpdate,
    ValidationIssue,
    structure,
    unstructure,
)


def test_code_sets_are_self_named_and_have_domains() -> None:
    assert MessagingErrorCodes.DOMAIN == "messaging"
    assert ConnectorErrorCodes.DOMAIN == "connector"
    for codes in (MessagingErrorCodes, ConnectorErrorCodes):
        all_codes = codes.all_codes()
        assert all_codes and len(set(all_codes)) == len(all_codes)
        for code in all_codes:
            assert getattr(codes, code) == code
        assert "DOMAIN" not in all_codes


def test_design_codes_are_present() -> None:
    for name in ["MESSAGING_ERROR", "MESSAGE_SERIALIZATION_FAILED",
                 "MESSAGE_DESERIALIZATION_FAILED", "INVALID_CONFIGURATION", "RATE_LIMITED",
                 "TIMEOUT", "CONNECTION_FAILED", "INVALID_RECIPIENT"]:
        assert name in MessagingErrorCodes.all_codes()
    for name in ["ALREADY_INITIALIZED", "MESSAGE_VALIDATION_FAILED", "CAPABILITY_NOT_SUPPORTED"]:
        assert name in ConnectorErrorCodes.all_codes()
    # exhausted retries keep the last error's own code (e.g. RATE_LIMITED): no separate code
    assert "RETRY_ATTEMPTS_EXHAUSTED" not in ConnectorErrorCodes.all_codes()


def test_codes_are_str_enums_that_compare_and_print_as_their_value() -> None:
    code = MessagingErrorCodes.RATE_LIMITED
    assert isinstance(code, ErrorCode) and isinstance(code, str)
    assert code == "RATE_LIMITED" and code == "RATE_LIMITED"
    assert hash(code) == hash("RATE_LIMITED")
    assert str(code) == f"{code}" == format(code) == "RATE_LIMITED"
    assert MessagingErrorCodes("TIMEOUT") is MessagingErrorCodes.TIMEOUT
    assert code in {"RATE_LIMITED"} and "RATE_LIMITED" in MessagingErrorCodes.all_codes()
    assert list(ConnectorErrorCodes) == list(ConnectorErrorCodes.all_codes())
    assert pickle.loads(pickle.dumps(code)) is code


def test_the_domain_follows_from_the_code() -> None:
    m = ErrorInfo(MessagingErrorCodes.TIMEOUT, "slow", retryable=True)
    c = ErrorInfo(ConnectorErrorCodes.ALREADY_INITIALIZED, "twice")
    assert (m.domain, m.code, m.retryable) == ("messaging", "TIMEOUT", True)
    assert (c.domain, c.code) == ("connector", "ALREADY_INITIALIZED")
    assert str(c) == "[connector:ALREADY_INITIALIZED] twice"
    # the same domain given explicitly is fine; another one contradicts the code
    assert ErrorInfo(c.code, "twice", domain="connector") == c
    with pytest.raises(ValueError, match="connector"):
        ErrorInfo(ConnectorErrorCodes.ALREADY_INITIALIZED, "twice", domain="messaging")


def test_a_plain_text_code_keeps_the_domain_given() -> None:
    # a known code in its domain becomes the member
    known = ErrorInfo("ALREADY_INITIALIZED", "twice", domain="connector")
    assert known.code is ConnectorErrorCodes.ALREADY_INITIALIZED
    # an unknown code (or domain) stays text, in the domain given (default messaging)
    other = ErrorInfo("SOMETHING_NEW", "?")
    assert (other.domain, type(other.code)) == ("messaging", str)
    custom = ErrorInfo("E42", "?", domain="acme")
    assert (custom.domain, custom.code) == ("acme", "E42")
    # a connector code given as text, without its domain, is not moved to another domain
    assert ErrorInfo("ALREADY_INITIALIZED", "x").domain == "messaging"


def test_a_code_set_must_declare_its_domain() -> None:
    with pytest.raises(TypeError, match="domain"):
        class NoDomain(ErrorCode):
            X = "X"
    with pytest.raises(TypeError, match="already"):
        class Again(ErrorCode, domain="messaging"):
            X = "X"


def test_a_provider_code_set() -> None:
    class HeronCodes(ErrorCode, domain="heron-test"):
        NEST_FULL = "NEST_FULL"

    assert HeronCodes.DOMAIN == "heron-test" and HeronCodes.all_codes() == ("NEST_FULL",)
    error = ErrorInfo(HeronCodes.NEST_FULL, "full")
    assert error.domain == "heron-test"
    data = unstructure(error)
    assert (data["code"], data["domain"]) == ("NEST_FULL", "heron-test")
    assert type(data["code"]) is str
    back = structure(data, ErrorInfo)
    assert back == error and back.code is HeronCodes.NEST_FULL


def test_error_info_json_round_trip_is_stable() -> None:
    for error in (ErrorInfo(MessagingErrorCodes.TIMEOUT, "slow", retryable=True),
                  ErrorInfo(ConnectorErrorCodes.CONNECTOR_SHUT_DOWN, "down"),
                  ErrorInfo("UNKNOWN_CODE", "?", domain="elsewhere")):
        data = unstructure(error)
        assert type(data["code"]) is str and data["domain"] == error.domain
        back = structure(data, ErrorInfo)
        assert back == error and type(back.code) is type(error.code)
        assert unstructure(back) == data


def test_error_info_defaults_and_text() -> None:
    error = ErrorInfo(
        "INVALID_MESSAGE", "The message is not valid.", provider_code="21211",
        issues=[ValidationIssue("receiver", "missing", "required"),
                ValidationIssue("properties.X", "bad")],
    )
    assert error.domain == "messaging"
    assert error.retryable is False and error.retry_after is None
    assert error.outcome_unknown is False and error.details == {}
    assert isinstance(error.issues, tuple)
    assert error.issues[1].code == "invalid"
    assert str(error) == (
        "[messaging:INVALID_MESSAGE] The message is not valid. (provider code 21211)\n"
        "  - receiver: missing\n"
        "  - properties.X: bad"
    )
    assert str(ValidationIssue("a", "b")) == "a: b"


def test_result_ok_and_fail() -> None:
    sent = SendResult("m1", "SM1", MessageStatus.QUEUED)
    ok = Ok(sent)
    assert ok.is_success and not ok.is_failure
    assert ok.data is sent and ok.error is None
    assert ok.unwrap() is sent
    error = ErrorInfo("SEND_MESSAGE_FAILED", "nope")
    failed: Result[SendResult] = Err(error)
    assert failed.is_failure and not failed.is_success
    assert failed.data is None and failed.error is error
    assert "SEND_MESSAGE_FAILED" in repr(failed) and "SM1" in repr(ok)


def test_ok_none_is_a_success() -> None:
    result: Result[None] = Ok(None)
    assert result.is_success
    assert result.unwrap() is None


def test_unwrap_raises_messaging_error_with_the_error() -> None:
    error = ErrorInfo(MessagingErrorCodes.RATE_LIMITED, "slow down", retryable=True,
                      retry_after=2.0)
    with pytest.raises(MessagingError) as info:
        Err(error).unwrap()
    assert info.value.error is error
    assert info.value.code == "RATE_LIMITED"
    assert str(info.value) == str(error)


def test_messaging_error_survives_pickling() -> None:
    error = MessagingError(ErrorInfo("TIMEOUT", "t", details={"attempts": 3}))
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, MessagingError)
    assert again.error == error.error and again.code == "TIMEOUT"


def test_message_status() -> None:
    assert str(MessageStatus.DELIVERED) == "DELIVERED"
    assert MessageStatus("delivered") is MessageStatus.DELIVERED
    final = {s for s in MessageStatus if s.is_final}
    assert final == {MessageStatus.DELIVERED, MessageStatus.DELIVERY_FAILED, MessageStatus.READ,
                     MessageStatus.CANCELED, MessageStatus.DELETED, MessageStatus.ROUTE_FAILED,
                     MessageStatus.RECEIVED}
    assert not MessageStatus.QUEUED.is_final and not MessageStatus.SENT.is_final


def test_result_data_classes() -> None:
    sent = SendResult("m1", None, MessageStatus.SENT)
    assert sent.timestamp.tzinfo is timezone.utc
    assert sent.additional_data == {} and sent.provider_status is None
    batch = BatchSendResult(3, "m1", Ok(sent))
    assert batch.is_success
    assert not BatchSendResult(0, "m", Err(ErrorInfo("X", "x"))).is_success
    update = StatusUpdate("SM1", MessageStatus.DELIVERED)
    assert update.error is None and update.price is None
    assert (datetime.now(timezone.utc) - update.timestamp).total_seconds() < 60
    received = ReceiveResult([])
    assert received.messages == () and not received.is_duplicate
    info = StatusInfo("ready", "Ready")
    assert info.details == {}
    health = ConnectorHealth(True, "ready", 1.5)
    assert health.issues == () and health.is_healthy
