"""The seed page's "SMS with custom validity" example, in Python."""

from __future__ import annotations

from ratatosk import ConnectionSettings, Result, SendResult
from ratatosk_twilio import TwilioChannelSchemas, TwilioMessageBuilder, TwilioSmsConnector


async def main(settings: ConnectionSettings) -> Result[SendResult]:
    message = (
        TwilioMessageBuilder()  # MaxPrice is Twilio's: its builder has the helper
        .from_phone("+15550001111")
        .to_phone("+15550002222")
        .with_text("Time-sensitive message")
        .with_validity_period(300)  # 5 minutes
        .with_max_price(0.01)  # $0.01 max
        .build()
    )
    async with TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, settings) as connector:
        result = await connector.send_message(message)
        print(result.data.remote_message_id if result.is_success and result.data else result.error)
        return result


if __name__ == "__main__":
    from _run import run

    run(main)
