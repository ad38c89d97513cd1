"""A long SMS through the Vonage SMS API: each part has its own id (``message_ids`` of the send
result) and its own delivery receipt; the status tracker folds the parts' receipts into one
message status that never goes back."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from vonage_http_client.auth import Auth

from ratatosk import Message, MessageSource, MessageStatus, StatusTracker, StatusUpdate
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


def test_signed_delivery_receipts_through_the_connector_fold_into_one_status() -> None:
    """The same folding, end to end through ``receive_message_status``: SMS API delivery receipts
    as Vonage sends them (GET, ``sig``-signed by the official SDK), one per part."""
    secret = "parts-signature-secret-0000000001"
    connector = VonageSmsConnector(
        settings={"ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42",
                  "SignatureSecret": secret, "SignatureMethod": "sha256"},
        http_transport=httpx.MockTransport(lambda request: answer("R1", "R2")))
    tracker = connector.status_tracker = StatusTracker()
    blocking = connector.blocking()
    blocking.send_message(Message.text("z" * 200, to="+447700900000", sender="ACME")).unwrap()
    auth = Auth(api_key="abcd1234", signature_secret=secret, signature_method="sha256")

    def dlr(message_id: str, status: str) -> StatusUpdate:
        params: dict[str, Any] = {
            "msisdn": "447700900000", "to": "ACME", "network-code": "23410",
            "messageId": message_id, "price": "0.0333", "status": status, "err-code": "0",
            "scts": "2612041200", "message-timestamp": "2026-12-04 12:00:00",
            "nonce": str(uuid.uuid4())}
        params["sig"] = auth.sign_params(params)
        source = MessageSource(b"", method="GET",
                               url=f"https://hooks.example.com/dlr?{urlencode(params)}")
        return blocking.receive_message_status(source).unwrap()

    first = dlr("R1", "delivered")  # one part of two: the message waits for the slower part
    assert (first.status, first.message_status, first.is_stale) == (S.DELIVERED, S.QUEUED, True)
    second = dlr("R2", "delivered")
    assert (second.message_status, second.is_stale) == (S.DELIVERED, False)
    late = dlr("R2", "buffered")
    assert (late.message_status, late.is_stale) == (S.DELIVERED, True)
    assert tracker.status("R1") is S.DELIVERED
    blocking.shutdown()
