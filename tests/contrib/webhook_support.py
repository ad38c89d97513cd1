"""Shared by the Flask, Django and FastAPI adapter tests: a Twilio connector and a hook recorder."""

from __future__ import annotations

from typing import Any

from ratatosk import Message, StatusUpdate, hookimpl
from ratatosk.connector import Connector
from ratatosk_twilio import TwilioSmsConnector

ACCOUNT_SID = "AC" + "0" * 32


def sms_connector(settings: dict[str, Any], plugin_manager: Any = None) -> Connector:
    """A Twilio SMS connector with these settings (and a fixed account SID)."""
    return TwilioSmsConnector(settings={"AccountSid": ACCOUNT_SID, **settings},
                              plugin_manager=plugin_manager)


class Hooks:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.updates: list[StatusUpdate] = []

    @hookimpl
    def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
        self.messages.append(message)

    @hookimpl
    def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
        self.updates.append(update)
