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
)
from ratatosk._errors import connector_error, messaging_error


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


def test_error_helpers_set_the_domain() -> None:
    m = messaging_error(MessagingErrorCodes.TIMEOUT, "slow", retryable=True)
    c = connector_error(ConnectorErrorCodes.ALREADY_INITIALIZED, "twice")
    assert (m.domain, m.code, m.retryable) == ("messaging", "TIMEOUT", True)
    assert (c.domain, c.code) == ("connector", "ALREADY_INITIALIZED")


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
