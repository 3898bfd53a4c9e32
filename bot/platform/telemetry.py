"""Courier's telemetry: traces and metrics through OpenTelemetry, behind a small typed API.

The rest of Courier records through :class:`Telemetry` and never imports OpenTelemetry itself. Spans carry ids,
kinds, states and HTTP statuses, never secrets or message content. Metrics are read as Prometheus text on
``GET /metrics`` (see ``bot/platform/server.py``) and, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, exported over
OTLP/HTTP with the traces. Each app owns its own providers (nothing global is set), so several apps in one process
(tests) do not mix their figures; the current span still travels in the context, across awaits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricReader,
    NumberDataPoint,
    PeriodicExportingMetricReader,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from bot.platform.version import VERSION

logger = logging.getLogger(__name__)

Attribute = str | int | float | bool
QueueProbe = Callable[[], Awaitable[tuple[int, float]]]  # (queued deliveries due now, age of the oldest in seconds)
WorkerProbe = Callable[[], Mapping[str, bool]]  # worker name -> running
_PROPAGATOR = TraceContextTextMapPropagator()
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


class Traced:
    """The span of a piece of work, for adding what is learnt while it runs (an outcome, a status)."""

    def __init__(self, span: Span | None) -> None:
        self._span = span

    def set(self, key: str, value: Attribute) -> None:
        if self._span is not None:
            self._span.set_attribute(key, value)

    def fail(self, description: str) -> None:
        if self._span is not None:
            self._span.set_status(Status(StatusCode.ERROR, description[:200]))


@dataclass
class _Observed:
    queue_depth: int = 0
    oldest_age: float = 0.0


class Telemetry:
    """One app's traces and metrics. ``Telemetry.off()`` records nothing (parts built outside a server)."""

    def __init__(self, *, otlp_endpoint: str = "", service_name: str = "courier", enabled: bool = True) -> None:
        self.enabled = enabled
        self._observed = _Observed()
        self._queue: QueueProbe | None = None
        self._workers: WorkerProbe | None = None
        self._reader = InMemoryMetricReader()
        if not enabled:
            self._tracer_provider: TracerProvider | None = None
            self._meter_provider: MeterProvider | None = None
            return
        resource = Resource.create({"service.name": service_name, "service.version": VERSION})
        readers: list[MetricReader] = [self._reader]
        self._tracer_provider = TracerProvider(resource=resource)
        if otlp_endpoint:
            base = otlp_endpoint.rstrip("/")
            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics")))
            self._tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
        self._meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        self._instruments()

    @classmethod
    def off(cls) -> Telemetry:
        return cls(enabled=False)

    def _instruments(self) -> None:
        assert self._meter_provider is not None and self._tracer_provider is not None
        self._tracer = self._tracer_provider.get_tracer("courier", VERSION)
        meter = self._meter_provider.get_meter("courier", VERSION)
        self._deliveries = meter.create_counter("courier.deliveries", description="Delivery outcomes by state")
        self._throttled = meter.create_counter("courier.throttled", description="429 answers received, by service")
        self._connector = meter.create_counter("courier.connector.calls", description="Bot Connector calls by status")
        self._graph = meter.create_counter("courier.graph.calls", description="Microsoft Graph calls by status")
        self._turns = meter.create_histogram(
            "courier.turn.duration", unit="s", description="Inbound turns, start to answer",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )  # fmt: skip
        self._lateness = meter.create_histogram(
            "courier.scheduler.lateness", unit="s", description="Scheduled jobs: start minus due time",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )  # fmt: skip
        meter.create_observable_gauge(
            "courier.queue.depth", [self._observe_depth], description="Deliveries queued and due now"
        )
        meter.create_observable_gauge(
            "courier.queue.oldest_age", [self._observe_age], unit="s", description="Age of the oldest due delivery"
        )
        meter.create_observable_gauge(
            "courier.worker.up", [self._observe_workers], description="1 while a background worker runs"
        )

    # -- traces ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, Attribute] | None = None,
        *,
        client: bool = False,
        parent: str | None = None,
    ) -> Iterator[Traced]:
        """A span for ``name``: a child of the current one, or of ``parent`` (a stored :func:`trace_parent`);
        ``client`` marks an outgoing call."""
        if self._tracer_provider is None:
            yield Traced(None)
            return
        kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
        context = _PROPAGATOR.extract({"traceparent": parent}) if parent else None
        with self._tracer.start_as_current_span(
            name, context=context, kind=kind, attributes=dict(attributes or {})
        ) as span:
            yield Traced(span)

    # -- metrics -----------------------------------------------------------------------------------------
    def delivery(self, outcome: str) -> None:
        """An engine outcome: ``sent``, ``retry:throttled``, ``failed:blocked``, ``maybe_delivered``..."""
        if self.enabled:
            state, _, reason = outcome.partition(":")
            self._deliveries.add(1, {"state": state, "reason": reason})

    def connector_call(self, operation: str, status: int) -> None:
        if self.enabled:
            self._connector.add(1, {"operation": operation, "status": str(status)})
            if status == 429:
                self._throttled.add(1, {"service": "connector"})

    def graph_call(self, method: str, status: int) -> None:
        if self.enabled:
            self._graph.add(1, {"method": method, "status": str(status)})
            if status == 429:
                self._throttled.add(1, {"service": "graph"})

    def turn(self, seconds: float, activity_type: str) -> None:
        if self.enabled:
            self._turns.record(seconds, {"type": activity_type})

    def lateness(self, seconds: float, kind: str) -> None:
        if self.enabled:
            self._lateness.record(max(0.0, seconds), {"kind": kind})

    def watch_queue(self, probe: QueueProbe) -> None:
        self._queue = probe

    def watch_workers(self, probe: WorkerProbe) -> None:
        self._workers = probe

    async def refresh(self) -> None:
        """Read what is observed from storage (the queue) before the figures are collected."""
        if self._queue is not None:
            self._observed.queue_depth, self._observed.oldest_age = await self._queue()

    def _observe_depth(self, _options: CallbackOptions) -> list[Observation]:
        return [Observation(self._observed.queue_depth)]

    def _observe_age(self, _options: CallbackOptions) -> list[Observation]:
        return [Observation(self._observed.oldest_age)]

    def _observe_workers(self, _options: CallbackOptions) -> list[Observation]:
        workers = self._workers() if self._workers is not None else {}
        return [Observation(1 if up else 0, {"worker": name}) for name, up in workers.items()]

    # -- export ------------------------------------------------------------------------------------------
    def prometheus(self) -> str:
        """Every metric in the Prometheus text exposition format (version 0.0.4)."""
        data = self._reader.get_metrics_data() if self.enabled else None
        lines: list[str] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    lines += _exposition(metric.name, metric.unit, metric.description, metric.data)
        return "\n".join(lines) + "\n"

    def flush(self) -> None:
        """Export what is pending now (blocking: call it from a thread)."""
        if self._tracer_provider is not None and self._meter_provider is not None:
            self._tracer_provider.force_flush()
            self._meter_provider.force_flush()

    def shutdown(self) -> None:
        if self._tracer_provider is not None and self._meter_provider is not None:
            self._tracer_provider.shutdown()
            self._meter_provider.shutdown()


def trace_parent() -> str | None:
    """The current span as a W3C ``traceparent`` value, to store with work that another task picks up later (None
    when no span is recording)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def _name(name: str, unit: str | None) -> str:
    base = name.replace(".", "_").replace("-", "_")
    return f"{base}_seconds" if unit == "s" and not base.endswith("_seconds") else base


def _labels(attributes: Mapping[str, Any] | None, extra: Mapping[str, str] | None = None) -> str:
    pairs = {**{str(k): str(v) for k, v in (attributes or {}).items()}, **(extra or {})}
    if not pairs:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in pairs.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(pairs, escaped, strict=True)) + "}"


def _exposition(name: str, unit: str | None, description: str | None, data: Any) -> list[str]:
    metric = _name(name, unit)
    if isinstance(data, Sum):
        kind, sample = ("counter", f"{metric}_total") if data.is_monotonic else ("gauge", metric)
        points: list[NumberDataPoint] = list(data.data_points)
        head = [f"# HELP {sample} {description or name}", f"# TYPE {sample} {kind}"]
        return head + [f"{sample}{_labels(p.attributes)} {p.value}" for p in points]
    if isinstance(data, Gauge):
        head = [f"# HELP {metric} {description or name}", f"# TYPE {metric} gauge"]
        return head + [f"{metric}{_labels(p.attributes)} {p.value}" for p in data.data_points]
    if isinstance(data, Histogram):
        lines = [f"# HELP {metric} {description or name}", f"# TYPE {metric} histogram"]
        for point in data.data_points:
            lines += _histogram(metric, point)
        return lines
    return []


def _histogram(metric: str, point: HistogramDataPoint) -> list[str]:
    lines, running = [], 0
    for bound, count in zip([*point.explicit_bounds, float("inf")], point.bucket_counts, strict=True):
        running += count
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        lines.append(f"{metric}_bucket{_labels(point.attributes, {'le': le})} {running}")
    lines.append(f"{metric}_sum{_labels(point.attributes)} {point.sum}")
    lines.append(f"{metric}_count{_labels(point.attributes)} {point.count}")
    return lines
