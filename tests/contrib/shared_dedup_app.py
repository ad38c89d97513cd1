"""The webhook application the worker processes of test_contrib_shared_dedup.py run
(``uvicorn shared_dedup_app:app``): one Twilio endpoint whose connector remembers webhooks in
Redis, and a handler that records each call in Redis (to count calls across processes)."""

from __future__ import annotations

import os

import redis
from starlette.applications import Starlette

from ratatosk import Message, RedisDeduplicationStore, StatusUpdate
from ratatosk_contrib.starlette import webhook_route
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.twiml import TwiML

client = redis.Redis.from_url(os.environ["RTK_REDIS"])
prefix = os.environ["RTK_PREFIX"]
connector = TwilioSmsConnector(settings={
    "AccountSid": "AC" + "1" * 32, "AuthToken": os.environ["RTK_TOKEN"],
    "WebhookUrl": "https://app.example.com/twilio"})
connector.dedup_store = RedisDeduplicationStore(client, prefix=f"{prefix}:dedup", ttl_seconds=600)


def on_message(message: Message) -> TwiML:
    client.rpush(f"{prefix}:handled", f"{os.getpid()} message {message.id}")
    return TwiML.message("thanks")


def on_status(update: StatusUpdate) -> None:
    client.rpush(f"{prefix}:handled", f"{os.getpid()} status {update.remote_message_id}")


app = Starlette(routes=[webhook_route("/twilio", connector, on_message=on_message,
                                      on_status=on_status)])
