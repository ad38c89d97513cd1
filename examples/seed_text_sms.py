"""The seed page's "Text SMS" example, in Python."""

from __future__ import annotations

from ratatosk import ConnectionSettings, MessageBuilder, Result, SendResult
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector


async def main(settings: ConnectionSettings) -> Result[SendResult]:
    # settings = (ConnectionSettings()
    #             .set_parameter("AccountSid", "AC...")
    #             .set_parameter("AuthToken", "..."))
    connector = TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings)
    await connector.initialize()

    message = (
        MessageBuilder()
        .with_id("sms-1")
        .from_phone("+15550001111")
        .to_phone("+15550002222")
        .with_text("Hello from Twilio SMS")
        .build()
    )

    result = await connector.send_message(message)

    if result.is_success and result.data is not None:
        print(f"Sent! Twilio SID: {result.data.remote_message_id}")
        print(f"Status: {result.data.status}")
    else:
        print(f"Failed: {result.error}")
    await connector.shutdown()
    return result


if __name__ == "__main__":
    from _run import run

    run(main)
