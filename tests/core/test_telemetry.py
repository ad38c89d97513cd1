"""OpenTelemetry through the plugin hooks: spans and metrics for sends, status queries and
webhooks, against the Twilio sandbox over loopback, read with the SDK's in-memory exporter and
metric reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import ratatosk
import ratatosk.telemetry
from ratatosk import Message, MessageSource
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox
from ratatosk_twilio.signature import compute_signature

US = "+15005550006"
THEM = "+14155550100"


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.reader])
        self.pm = pluggy.PluginManager("ratatosk")
        self.pm.add_hookspecs(ratatosk.hookspecs)
        ratatosk.telemetry.install(self.pm, tracer_provider=tracer_provider,
                                   meter_provider=meter_provider)

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # a histogram: how many were recorded
                        found.setdefault(metric.name, []).append(
                            (dict(point.attributes or {}), value))
        return found


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


def connector(sandbox: TwilioSandbox, telemetry: Telemetry, **settings: Any) -> Any:
    return TwilioSmsConnector(settings={
        "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
        "BaseUrl": sandbox.base_url, "MaxRetries": 0, **settings},
        plugin_manager=telemetry.pm)


def test_a_send_and_a_status_query_are_spans_with_the_messaging_conventions(
        sandbox: TwilioSandbox, telemetry: Telemetry) -> None:
    blocking = connector(sandbox, telemetry).blocking()
    sent = blocking.send_message(Message.text("Hi", to=THEM, sender=US)).unwrap()
    blocking.get_message_status(sent.remote_message_id or "").unwrap()
    send, query = telemetry.spans.get_finished_spans()
    assert send.name == "send twilio/sms" and send.kind is SpanKind.PRODUCER
    assert dict(send.attributes or {}) == {
        "messaging.system": "twilio", "messaging.operation.name": "send",
        "messaging.operation.type": "send", "messaging.destination.name": "twilio/sms",
        "messaging.message.id": sent.remote_message_id}
    assert send.end_time is not None and send.start_time is not None
    assert send.end_time > send.start_time
    assert query.name == "get_status twilio/sms"
    assert (query.attributes or {})["messaging.message.id"] == sent.remote_message_id
    for span in (send, query):  # never a phone number or a text
        assert THEM not in str(dict(span.attributes or {})) and "Hi" not in str(
            dict(span.attributes or {}))
    metrics = telemetry.metrics()
    assert [(a["messaging.operation.name"], a["outcome"], v)
            for a, v in metrics["ratatosk.messages"]] == [
        ("send_message", "ok", 1), ("get_message_status", "ok", 1)]
    assert sum(v for _, v in metrics["ratatosk.operation.duration"]) == 2
    assert [(a["messaging.operation.name"], v) for a, v in metrics["ratatosk.segments"]] == [
        ("send_message", 1)]
    assert [(a["currency"], v) for a, v in metrics["ratatosk.cost"]] == [("USD", 0.0079)]
    blocking.get_message_status(sent.remote_message_id or "").unwrap()  # counted once
    assert [v for _, v in telemetry.metrics()["ratatosk.cost"]] == [0.0079]
    blocking.shutdown()


def test_errors_are_counted_by_code_and_mark_the_span(sandbox: TwilioSandbox,
                                                      telemetry: Telemetry) -> None:
    blocking = connector(sandbox, telemetry).blocking()
    failed = blocking.send_message(Message.text("Hi", to="+15005550001", sender=US))
    assert failed.error is not None
    [span] = telemetry.spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "INVALID_RECIPIENT"
    [(labels, count)] = telemetry.metrics()["ratatosk.errors"]
    assert labels["error.type"] == "INVALID_RECIPIENT" and count == 1
    blocking.shutdown()


async def test_batches_and_the_async_path_too(sandbox: TwilioSandbox,
                                              telemetry: Telemetry) -> None:
    async with connector(sandbox, telemetry) as async_connector:
        results = [item async for item in async_connector.send_batch(
            [Message.text(f"m{i}", to=THEM, sender=US) for i in range(5)])]
    assert all(r.result.is_success for r in results)
    spans = telemetry.spans.get_finished_spans()
    assert len(spans) == 5 and {s.name for s in spans} == {"send twilio/sms"}


def test_a_webhook_is_a_consumer_span_with_its_message_count(telemetry: Telemetry) -> None:
    token = "a" * 32
    receiver = TwilioSmsConnector(settings={"AccountSid": "AC" + "1" * 32, "AuthToken": token},
                                  plugin_manager=telemetry.pm)
    url = "https://app.example.com/sms"
    fields = {"MessageSid": "SM" + "c" * 32, "AccountSid": "AC" + "1" * 32, "From": THEM,
              "To": US, "Body": "hello", "NumMedia": "0"}
    source = MessageSource.url_post(urlencode(fields), url=url, headers={
        "X-Twilio-Signature": compute_signature(token, url, fields)})
    receiver.blocking().receive_messages(source).unwrap()
    [span] = telemetry.spans.get_finished_spans()
    assert span.name == "receive twilio/sms" and span.kind is SpanKind.CONSUMER
    assert (span.attributes or {})["messaging.batch.message_count"] == 1
    assert "hello" not in str(dict(span.attributes or {}))


def test_install_registers_on_the_default_plugin_manager() -> None:
    plugin = ratatosk.telemetry.install()
    try:
        assert ratatosk.get_plugin_manager().is_registered(plugin)
    finally:
        ratatosk.get_plugin_manager().unregister(plugin)


def test_the_operation_finished_hook_reports_every_operation(sandbox: TwilioSandbox) -> None:
    seen: list[tuple[str, Any, bool, float]] = []

    class Recorder:
        @ratatosk.hookimpl
        def ratatosk_operation_finished(self, connector: Any, operation: str, subject: Any,
                                        result: Any, seconds: float) -> None:
            seen.append((operation, subject, result.is_success, seconds))

    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    pm.register(Recorder())
    blocking = TwilioSmsConnector(settings={
        "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
        "BaseUrl": sandbox.base_url}, plugin_manager=pm).blocking()
    message = Message.text("Hi", to=THEM, sender=US)
    sid = blocking.send_message(message).unwrap().remote_message_id or ""
    refused = Message.text("", to=THEM, sender=US)  # refused before any request: reported too
    assert not blocking.send_message(refused).is_success
    blocking.get_message_status(sid).unwrap()
    assert [(op, ok) for op, _, ok, _ in seen] == [
        ("send_message", True), ("send_message", False), ("get_message_status", True)]
    assert seen[0][1] is message and seen[2][1] == sid
    assert all(seconds >= 0 for *_, seconds in seen)
    blocking.shutdown()
