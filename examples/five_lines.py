"""The README's five lines, against the sandbox (a DSN whose host is the sandbox's address)."""

from __future__ import annotations

import ratatosk
from ratatosk_twilio.sandbox import TwilioSandbox

with TwilioSandbox() as sandbox:
    host = sandbox.base_url.split("://", 1)[1]
    dsn = f"twilio://{sandbox.account_sid}:{sandbox.auth_token}@{host}"

    connector = ratatosk.connect(dsn).blocking()
    message = ratatosk.Message.text("Hello", to="+15550002222", sender="+15550001111")
    result = connector.send_message(message)
    print(result.is_success, result.data.remote_message_id if result.is_success else result.error)
    connector.shutdown()
