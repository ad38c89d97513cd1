"""The seed page's "SMS with media (MMS)" example, in Python.

The seed sends it through the SimpleSms connector, whose own schema table says plain text only;
media needs a schema with MEDIA_ATTACHMENTS, so this twin uses TwilioChannelSchemas.TWILIO_SMS.
"""

from __future__ import annotations

from ratatosk import (
    ConnectionSettings,
    MediaContent,
    MediaType,
    MessageBuilder,
    Result,
    SendResult,
)
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector


async def main(settings: ConnectionSettings) -> Result[SendResult]:
    async with TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, settings) as connector:
        message = (
            MessageBuilder()
            .with_id("mms-1")
            .from_phone("+15550001111")
            .to_phone("+15550002222")
            .with_content(
                MediaContent(MediaType.IMAGE, "photo.jpg", "https://example.com/photo.jpg")
            )
            .build()
        )
        result = await connector.send_message(message)
        print(result.data.remote_message_id if result.is_success and result.data else result.error)
        return result


if __name__ == "__main__":
    from _run import run

    run(main)
