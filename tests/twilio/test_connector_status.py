"""Every Twilio message status (the OpenAPI spec's ``message_enum_status``) maps to a definite
framework status, through ``map_twilio_status`` and through a real status query."""

from __future__ import annotations

import json

import httpx
import pytest
from reference_data import reference_file

from ratatosk import ConnectionSettings, MessageStatus
from ratatosk_twilio import TwilioSmsConnector, TwilioWhatsAppConnector, map_twilio_status
from ratatosk_twilio._status import TWILIO_STATUS_MAP

SPEC = reference_file("twilio_messages_openapi.json")
SPEC_STATUSES: list[str] = json.loads(SPEC.read_text())["components"]["schemas"][
    "message_enum_status"]["enum"]

ACCOUNT = "AC" + "0123456789abcdef" * 2
SID = "SM" + "ab" * 16

# the documented mapping (docs/twilio.md): one line per Twilio status
EXPECTED = {
    "queued": MessageStatus.QUEUED,
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.SCHEDULED,
    "sending": MessageStatus.ROUTED,
    "sent": MessageStatus.SENT,
    "failed": MessageStatus.ROUTE_FAILED,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.DELIVERY_FAILED,
    "partially_delivered": MessageStatus.DELIVERY_FAILED,
    "read": MessageStatus.READ,
    "canceled": MessageStatus.CANCELED,
    "receiving": MessageStatus.RECEIVED,
    "received": MessageStatus.RECEIVED,
}


def test_the_spec_has_thirteen_statuses_and_all_are_mapped() -> None:
    assert len(SPEC_STATUSES) == 13
    assert set(SPEC_STATUSES) == set(TWILIO_STATUS_MAP) == set(EXPECTED)


@pytest.mark.parametrize("status", SPEC_STATUSES)
def test_status_maps_to_its_documented_value(status: str) -> None:
    mapped = map_twilio_status(status)
    assert mapped is not MessageStatus.UNKNOWN
    assert mapped is EXPECTED[status]
    assert map_twilio_status(status.upper()) is mapped


def test_unknown_statuses_are_unknown() -> None:
    assert map_twilio_status("teleported") is MessageStatus.UNKNOWN
    assert map_twilio_status("") is MessageStatus.UNKNOWN
    assert map_twilio_status(None) is MessageStatus.UNKNOWN


@pytest.mark.parametrize("status", SPEC_STATUSES)
@pytest.mark.parametrize("cls", [TwilioSmsConnector, TwilioWhatsAppConnector])
def test_status_query_returns_each_status(
    status: str, cls: type[TwilioSmsConnector] | type[TwilioWhatsAppConnector]
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"sid": SID, "status": status, "num_segments": "1"})

    settings = ConnectionSettings({"AccountSid": ACCOUNT, "AuthToken": "token-1234"})
    connector = cls(None, settings, http_transport=httpx.MockTransport(api))
    result = connector.blocking().get_message_status(SID)
    assert result.is_success and result.data is not None
    assert result.data.status is EXPECTED[status]
    assert result.data.provider_status == status
    assert result.data.remote_message_id == SID
    assert result.data.segments == 1
