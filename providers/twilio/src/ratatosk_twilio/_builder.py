"""TwilioMessageBuilder: the core's MessageBuilder plus the helpers for Twilio-only properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from attrs import define

from ratatosk import MessageBuilder, MessageProperties

__all__ = ["TwilioMessageBuilder"]

_TB = TypeVar("_TB", bound="TwilioMessageBuilder")


@define
class TwilioMessageBuilder(MessageBuilder):
    """A :class:`~ratatosk.MessageBuilder` with helpers for Twilio's own message properties.

    >>> from ratatosk_twilio import TwilioMessageBuilder
    >>> message = (TwilioMessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
    ...            .with_text("Time-sensitive message").with_validity_period(300)
    ...            .with_max_price(0.01).build())
    >>> message.properties["MaxPrice"]
    Decimal('0.01')

    Every helper sets a message property the Twilio connectors send (``MaxPrice``,
    ``ProvideCallback``, ``SmartEncoded``, ``SendAt`` + ``ScheduleType``); other providers ignore
    or refuse them, so they are not on the core's builder.
    """

    def with_max_price(self: _TB, price: float | Decimal | str) -> _TB:
        """``MaxPrice``: the most Twilio may charge for the message (kept as the decimal written,
        ``0.01`` stays ``Decimal("0.01")``)."""
        return self.with_property(MessageProperties.MAX_PRICE, Decimal(str(price)))

    def with_provide_callback(self: _TB, enabled: bool = True) -> _TB:
        """``ProvideCallback``: ask Twilio for a status callback."""
        return self.with_property(MessageProperties.PROVIDE_CALLBACK, enabled)

    def with_smart_encoded(self: _TB, enabled: bool = True) -> _TB:
        """``SmartEncoded``: let Twilio replace characters with GSM-7 look-alikes."""
        return self.with_property(MessageProperties.SMART_ENCODED, enabled)

    def with_send_at(self: _TB, when: Any) -> _TB:
        """Schedule the message (a timezone-aware datetime or an ISO 8601 string): ``SendAt`` and
        Twilio's ``ScheduleType=fixed`` (an explicit ScheduleType is kept). Scheduling needs a
        MessagingServiceSid."""
        self.with_property(MessageProperties.SEND_AT, when)
        if MessageProperties.SCHEDULE_TYPE not in self.properties:
            self.with_property(MessageProperties.SCHEDULE_TYPE, "fixed")
        return self
