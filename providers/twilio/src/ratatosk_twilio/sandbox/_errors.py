"""Twilio-shaped API errors of the sandbox and the codes it answers with.

Where Twilio documents no code for a case, the sandbox answers one picked from Twilio's
messaging error catalogue:

* malformed ``MessagingServiceSid`` -> 21705 (The Messaging Service is invalid)
* malformed ``ContentSid`` -> 21655; ``ContentVariables`` without ``ContentSid`` -> 21654;
  ``ContentVariables`` not a JSON object -> 21656
* ``StatusCallback`` not an absolute http(s) URL -> 21609; ``MediaUrl`` not http(s) -> 21620
* ``From`` and ``To`` on different channels (``whatsapp:`` vs SMS) -> 21910
* ``MaxPrice`` not a positive number -> 21627
* other malformed values (booleans, enums other than ``ScheduleType``, ``Attempt``, a form body
  that is not valid UTF-8) -> 21619 (Unable to create record), with a message naming the parameter
* ``ScheduleType`` not ``fixed``, or ``SendAt`` without ``ScheduleType=fixed`` -> 35126;
  ``ScheduleType=fixed`` without ``SendAt`` -> 35111; scheduling without a Messaging Service ->
  35118; ``SendAt`` unparsable or outside 15 minutes .. 35 days from now -> 35114
* update with a ``Status`` other than ``canceled`` -> 21475; canceling a message that is not
  ``scheduled`` -> 30409; update ``Body`` to anything but ``""`` -> 21619
* invalid list query values (``PageSize``, ``Page``, ``DateSent``) -> 20001;
  a malformed ``PageToken`` -> 21481
* a method a resource does not answer -> 405 / 20004 (Method not allowed), with ``Allow``
* credentials valid but for another account than the one in the URL -> 401 / 20003 (the
  connector's real misconfiguration is its credentials, so it should see an authentication error)
"""

from __future__ import annotations

import json

from ratatosk_twilio._error_catalog import describe_twilio_error

__all__ = ["ApiError", "catalogue_message", "error_body", "more_info"]

# Messages for codes answered without a more specific text.
_DEFAULT_MESSAGES = {
    20003: "Authenticate",
    20004: "Method not allowed",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
}


class ApiError(Exception):
    """An error answered as Twilio's JSON error document."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        status: int = 400,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.code = code
        self.status = status
        self.headers = headers
        if message is None:
            message = _DEFAULT_MESSAGES.get(code)
            if message is None:
                info = describe_twilio_error(code)
                message = info.message if info is not None else f"Error {code}"
        self.message = message
        super().__init__(f"{code}: {message}")

    def to_json(self) -> bytes:
        return json.dumps(error_body(self.code, self.message, self.status)).encode()


def more_info(code: int) -> str:
    info = describe_twilio_error(code)
    if info is not None and info.more_info:
        return str(info.more_info)
    return f"https://www.twilio.com/docs/errors/{code}"


def error_body(code: int, message: str, status: int) -> dict[str, object]:
    return {"code": code, "message": message, "more_info": more_info(code), "status": status}


def catalogue_message(code: int) -> str | None:
    info = describe_twilio_error(code)
    return info.message if info is not None else None
