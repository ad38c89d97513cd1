"""Keyword-built messages and snake_case settings (the Pythonic API beside the seed's builder)."""

from __future__ import annotations

import ratatosk
from ratatosk import ConnectionSettings, Message, MessageProperties


def main(settings: ConnectionSettings) -> list[str]:
    """Send a text, an MMS with two pictures and a short-lived text; returns the Twilio SIDs."""
    messages = [
        Message.text("Hello", to="+15550002222", sender="+15550001111"),
        Message.media("https://example.com/photo.jpg", "https://example.com/map.png",
                      text="Two pictures", to="+15550002222", sender="+15550001111"),
        Message.text("Time-sensitive message", to="+15550002222", sender="+15550001111",
                     properties={MessageProperties.VALIDITY_PERIOD: 300}),
    ]
    sids = []
    with ratatosk.connect("twilio/sms", settings).blocking() as connector:
        for message in messages:
            result = connector.send_message(message)
            if result.data is not None:
                sids.append(result.data.remote_message_id or "")
                print(message.text, "->", result.data.remote_message_id)
            else:
                print(message.text, "->", result.error)
    return sids


if __name__ == "__main__":
    import os

    if os.environ.get("TWILIO_ACCOUNT_SID") and os.environ.get("TWILIO_AUTH_TOKEN"):
        main(ConnectionSettings.from_env("TWILIO_"))
    else:
        from ratatosk_twilio.sandbox import TwilioSandbox

        print("(no TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN set: using the local sandbox)")
        with TwilioSandbox() as sandbox:
            settings = ConnectionSettings()
            settings["account_sid"] = sandbox.account_sid
            settings["auth_token"] = sandbox.auth_token
            settings["base_url"] = sandbox.base_url
            main(settings)
