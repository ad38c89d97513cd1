"""Runs an example on real Twilio (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN set) or the sandbox."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

from ratatosk import ConnectionSettings


def run(main: Callable[[ConnectionSettings], Coroutine[Any, Any, Any]]) -> None:
    if os.environ.get("TWILIO_ACCOUNT_SID") and os.environ.get("TWILIO_AUTH_TOKEN"):
        asyncio.run(main(ConnectionSettings.from_env("TWILIO_")))
        return
    from ratatosk_twilio.sandbox import TwilioSandbox

    print("(no TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN set: using the local sandbox)")
    with TwilioSandbox() as sandbox:
        settings = (
            ConnectionSettings()
            .set_parameter("AccountSid", sandbox.account_sid)
            .set_parameter("AuthToken", sandbox.auth_token)
            .set_parameter("BaseUrl", sandbox.base_url)
        )
        asyncio.run(main(settings))
