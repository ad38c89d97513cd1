"""The seed page's "Webhook handling" example, in Python (FastAPI).

Like the seed, the route reads the raw form body into a MessageSource. Unlike the seed, it also
passes the URL and headers: the connector checks X-Twilio-Signature itself (on by default), which
the seed leaves to you ("Important: validate X-Twilio-Signature before processing").
For a ready-made endpoint (any provider) see ratatosk_contrib.starlette.webhook
(docs/webhooks.md).

Run, from this folder: uvicorn seed_webhook_fastapi:app
(with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN set; every TWILIO_* variable becomes a setting,
e.g. TWILIO_WEBHOOK_URL=https://your.host/webhooks/twilio/sms when a proxy or tunnel is in front).
From the repository's root: uvicorn examples.seed_webhook_fastapi:app
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response

from ratatosk import ConnectionSettings, MessageSource, Result
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector, TwiML


def create_app(settings: ConnectionSettings) -> FastAPI:
    connector = TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, settings)
    app = FastAPI()
    app.state.received = []

    @app.post("/webhooks/twilio/sms")
    async def twilio_webhook(request: Request) -> Response:
        # Read the raw form body (and the URL and headers) into a MessageSource
        body = await request.body()
        source = MessageSource.url_post(body, url=str(request.url), headers=request.headers.items())

        # Process the status update
        status_result = await connector.receive_message_status(source)
        if status_result.is_success:
            app.state.received.append(status_result.data)
        elif _code(status_result) == "INVALID_WEBHOOK_SIGNATURE":
            return Response(status_code=403)
        else:
            # Or process an inbound message
            message_result = await connector.receive_messages(source)
            if not message_result.is_success:
                bad_signature = _code(message_result) == "INVALID_WEBHOOK_SIGNATURE"
                return Response(status_code=403 if bad_signature else 400)
            app.state.received.extend(message_result.data.messages if message_result.data else [])

        empty = TwiML.EMPTY  # the seed's TwiML.Empty
        return Response(empty.body, media_type=empty.content_type)

    return app


def _code(result: Result[Any]) -> str | None:
    return result.error.code if result.error is not None else None


# What `uvicorn seed_webhook_fastapi:app` serves: settings from the TWILIO_* environment variables
# (read once, at import; nothing is checked until the first webhook arrives).
app = create_app(ConnectionSettings.from_env("TWILIO_"))

if __name__ == "__main__":  # pragma: no cover - manual run
    import uvicorn

    uvicorn.run(app, port=8000)
