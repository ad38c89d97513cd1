"""OpenTelemetry tracing and metrics, as a plugin on the observation hooks (optional).

``pip install 'ratatosk-messaging[otel]'`` brings ``opentelemetry-api``; the application
configures the SDK (exporters) as usual, then::

    import ratatosk.telemetry

    ratatosk.telemetry.install()       # on the default plugin manager: every connector

Each send, status query and webhook receive becomes a span named after the messaging semantic
conventions (``send <connector>``, ``receive <connector>``, ``get_status <connector>``) with
``messaging.system`` (the provider), ``messaging.operation.name`` / ``messaging.operation.type``,
``messaging.destination.name`` (the connector id: never a phone number), ``messaging.message.id``
(the provider's id), ``messaging.batch.message_count`` for webhooks and, on failure,
``error.type`` (the error code) with the span's status set to ERROR. Metrics (instruments of the
meter ``ratatosk``): ``ratatosk.messages`` (counter, by connector, operation and outcome),
``ratatosk.segments`` (counter: the segments of each accepted send, when the provider says) and
``ratatosk.cost`` (counter: a message's price, once per message, from the first status update or
status query that reports it, by currency),
``ratatosk.operation.duration`` (histogram, seconds) and ``ratatosk.errors`` (counter, by code).
Recipients, senders and message texts are never recorded.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ._results import ReceiveResult, Result, SendResult, StatusUpdate
from .hookspecs import hookimpl
from .plugins import get_plugin_manager

if TYPE_CHECKING:
    import pluggy

    from .connector import Connector

__all__ = ["OpenTelemetryPlugin", "install"]

_OPERATIONS = {
    # our operation -> (span verb, messaging.operation.type)
    "send_message": ("send", "send"),
    "get_message_status": ("get_status", "receive"),
    "receive_messages": ("receive", "receive"),
    "receive_message_status": ("receive", "receive"),
}


class OpenTelemetryPlugin:
    """The hook implementations; :func:`install` registers one. ``tracer_provider`` and
    ``meter_provider`` default to OpenTelemetry's global providers."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import metrics, trace  # the optional extra: only when enabled

        self._trace = trace
        self.tracer = trace.get_tracer("ratatosk", tracer_provider=tracer_provider)
        meter = metrics.get_meter("ratatosk", meter_provider=meter_provider)
        self.messages = meter.create_counter(
            "ratatosk.messages", unit="{message}",
            description="Messages sent, refused, queried and received, by outcome")
        self.segments = meter.create_counter(
            "ratatosk.segments", unit="{segment}", description="Segments the provider billed")
        self.cost = meter.create_counter(
            "ratatosk.cost", description="Price the provider reported (absolute), by currency")
        self.duration = meter.create_histogram(
            "ratatosk.operation.duration", unit="s",
            description="Duration of sends, status queries and webhook receives")
        self.errors = meter.create_counter(
            "ratatosk.errors", unit="{error}", description="Failed operations, by error code")
        self._costed: OrderedDict[str, None] = OrderedDict()  # messages whose price counted
        self._lock = threading.Lock()

    @hookimpl
    def ratatosk_operation_finished(self, connector: Connector, operation: str, subject: Any,
                                    result: Result[Any], seconds: float) -> None:
        """One span and the metrics for a finished operation."""
        verb, kind = _OPERATIONS.get(operation, (operation, operation))
        schema = connector.schema
        destination = schema.connector_id
        attributes: dict[str, Any] = {
            "messaging.system": schema.provider,
            "messaging.operation.name": verb,
            "messaging.operation.type": kind,
            "messaging.destination.name": destination,
        }
        data, error = result.data, result.error
        remote_id = _remote_id(data, subject)
        if remote_id:
            attributes["messaging.message.id"] = remote_id
        if isinstance(data, ReceiveResult):
            attributes["messaging.batch.message_count"] = len(data.messages)
        if error is not None:
            attributes["error.type"] = str(error.code)
        end = time.time_ns()
        span = self.tracer.start_span(
            f"{verb} {destination}", kind=self._span_kind(kind), attributes=attributes,
            start_time=end - int(seconds * 1e9))
        if error is not None:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error.message))
        span.end(end_time=end)
        labels = {"messaging.system": schema.provider, "messaging.destination.name": destination,
                  "messaging.operation.name": operation,
                  "outcome": "ok" if error is None else "error"}
        self.messages.add(_count(data), labels)
        self.duration.record(seconds, labels)
        if error is not None:
            self.errors.add(1, {**labels, "error.type": str(error.code)})
        if isinstance(data, SendResult):
            segments = _segments(data)
            if segments:
                self.segments.add(segments, labels)
        elif isinstance(data, StatusUpdate) and data.price is not None and self._first_price(
                data.remote_message_id):
            self.cost.add(float(abs(data.price)), {**labels, "currency": data.price_unit or ""})

    def _first_price(self, remote_id: str) -> bool:
        """True the first time a price is seen for ``remote_id`` (the last 100,000 kept)."""
        with self._lock:
            if remote_id in self._costed:
                return False
            self._costed[remote_id] = None
            if len(self._costed) > 100_000:
                self._costed.popitem(last=False)
            return True

    def _span_kind(self, kind: str) -> Any:
        SpanKind = self._trace.SpanKind
        return SpanKind.PRODUCER if kind == "send" else SpanKind.CONSUMER


def _remote_id(data: Any, subject: Any) -> str | None:
    if isinstance(data, (SendResult, StatusUpdate)):
        return data.remote_message_id or None
    return subject if isinstance(subject, str) else None


def _count(data: Any) -> int:
    return len(data.messages) if isinstance(data, ReceiveResult) else 1


def _segments(data: SendResult) -> int | None:
    extra = data.additional_data
    segments = extra.get("segments") or extra.get("num_segments")
    try:
        return int(segments) if segments is not None else None
    except (TypeError, ValueError):
        return None


def install(plugin_manager: pluggy.PluginManager | None = None, *, tracer_provider: Any = None,
            meter_provider: Any = None) -> OpenTelemetryPlugin:
    """Register an :class:`OpenTelemetryPlugin` on ``plugin_manager`` (default: the one every
    connector uses, :func:`ratatosk.get_plugin_manager`) and return it."""
    if plugin_manager is None:
        plugin_manager = get_plugin_manager()
    plugin = OpenTelemetryPlugin(tracer_provider, meter_provider)
    plugin_manager.register(plugin, name="ratatosk.telemetry")
    return plugin
