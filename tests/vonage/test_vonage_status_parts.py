"""A long SMS through the Vonage SMS API: each part has its own id (``message_ids`` of the send
result) and its own delivery receipt; the status tracker folds the parts' receipts into one
message status that never goes back."""

from __future__ import annotations

import httpx

from ratatosk import Message, MessageStatus, StatusTracker, StatusUpdate
from ratatosk_vonage import VonageSmsConnector

S = MessageStatus


def answer(*ids: str) -> httpx.Response:
    parts = [{"to": "447700900000", "status": "0", "message-id": i, "message-price": "0.0333",
              "remaining-balance": "3.14", "network": "23410"} for i in ids]
    return httpx.Response(200, json={"message-count": str(len(parts)), "messages": parts})


def sms(*ids: str) -> tuple[VonageSmsConnector, StatusTracker]:
    connector = VonageSmsConnector(
        settings={"ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42"},
        http_transport=httpx.MockTransport(lambda request: answer(*ids)))
    tracker = connector.status_tracker = StatusTracker()
    return connector, tracker


def receipt(message_id: str, status: MessageStatus, word: str) -> StatusUpdate:
    """A delivery receipt as the SMS API gives it: per part, under the part's messageId."""
    return StatusUpdate(message_id, status, word)


def test_parts_of_a_long_sms_fold_into_one_status() -> None:
    connector, tracker = sms("P1", "P2", "P3")
    sent = connector.blocking().send_message(
        Message.text("x" * 400, to="+447700900000", sender="ACME")).unwrap()
    assert sent.remote_message_id == "P1"
    record = tracker.get("P3")
    assert record is not None and set(record.parts) == {"P1", "P2", "P3"}
    assert (record.sender, record.recipient, record.connector) == (
        "ACME", "+447700900000", "vonage/sms")

    assert tracker.apply(receipt("P2", S.DELIVERED, "delivered")).status is S.QUEUED
    assert tracker.apply(receipt("P3", S.SENT, "buffered")).status is S.QUEUED
    assert tracker.apply(receipt("P1", S.DELIVERED, "delivered")).status is S.SENT
    done = tracker.apply(receipt("P3", S.DELIVERED, "delivered"))
    assert done.changed and done.status is S.DELIVERED
    late = tracker.apply(receipt("P3", S.SENT, "accepted"))
    assert late.stale and tracker.status("P1") is S.DELIVERED


def test_one_failed_part_fails_the_message() -> None:
    connector, tracker = sms("Q1", "Q2")
    connector.blocking().send_message(
        Message.text("y" * 200, to="+447700900000", sender="ACME")).unwrap()
    tracker.apply(receipt("Q1", S.DELIVERED, "delivered"))
    failed = tracker.apply(receipt("Q2", S.DELIVERY_FAILED, "expired"))
    assert failed.changed and failed.status is S.DELIVERY_FAILED
    assert tracker.status("Q1") is S.DELIVERY_FAILED
