"""Prometheus metrics of one aimd process: one registry, plain recording
functions for every component, and a sink that feeds it from verdicts.

Labels stay low-cardinality: ``source`` (configured streams), ``engine``,
``decision``, ``reason``, ``outcome`` — never a window, track or URL.
All metrics live in the main process, so no multiprocess mode is needed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .. import __version__
from ..types import Decision, StreamSummary, WindowVerdict
from .events import SegmentPhase, SegmentTracker
from .settings import EventSettings

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_RUNNING = "running"
_RECONNECTING = "reconnecting"


class Metrics:
    """The metric set. Create one per process (:data:`metrics`); tests make their own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._build = Gauge(
            "aimd_build_info", "aimd build; always 1.", ["version", "engine", "model_version"], registry=r
        )
        self._up = Gauge("aimd_source_up", "1 while the source delivers audio.", ["source"], registry=r)
        self._reconnects = Counter("aimd_source_reconnects_total", "Source reconnect attempts.", ["source"], registry=r)
        self._last_window = Gauge(
            "aimd_source_last_window_timestamp_seconds", "Wall clock of the last verdict.", ["source"], registry=r
        )
        self._level = Gauge(
            "aimd_source_input_level_dbfs", "Input level of the last window, dBFS.", ["source"], registry=r
        )
        self._windows = Counter(
            "aimd_windows_analyzed_total", "Windows analysed, by decision.", ["source", "decision"], registry=r
        )
        self._dropped = Counter(
            "aimd_windows_dropped_total", "Windows lost before analysis, by reason.", ["source", "reason"], registry=r
        )
        self._ai_seconds = Counter(
            "aimd_ai_music_seconds_total", "Stream seconds decided AI music.", ["source"], registry=r
        )
        self._ai_score = Gauge("aimd_ai_score", "ai_score (0-1) of the last window.", ["source"], registry=r)
        self._rolling = Gauge(
            "aimd_ai_score_rolling", "Rolling ai_score (0-1) of the last windows.", ["source"], registry=r
        )
        self._decision = Gauge(
            "aimd_source_decision", "1 for the current decision of the source.", ["source", "decision"], registry=r
        )
        self._segment_active = Gauge(
            "aimd_ai_segment_active", "1 while an AI-music segment (with hysteresis) is open.", ["source"], registry=r
        )
        self._segments = Counter("aimd_ai_segments_total", "AI-music segments opened.", ["source"], registry=r)
        self._latency = Histogram(
            "aimd_window_latency_seconds", "Last sample captured to verdict ready.", ["source"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self._inference = Histogram(
            "aimd_inference_duration_seconds", "Engine time per window.", ["engine"],
            buckets=_INFERENCE_BUCKETS, registry=r,
        )
        self._rtf = Gauge(
            "aimd_inference_realtime_factor", "Inference time / audio time of the last window.", ["engine"], registry=r
        )
        self._queue = Gauge("aimd_queue_depth", "Windows waiting for the engine.", ["source"], registry=r)
        self._engine_requests = Counter(
            "aimd_engine_requests_total", "Remote-engine requests, by outcome.", ["engine", "outcome"], registry=r
        )
        self._engine_duration = Histogram(
            "aimd_engine_request_duration_seconds", "Remote-engine request duration.", ["engine"],
            buckets=_INFERENCE_BUCKETS, registry=r,
        )
        self._engine_audio = Counter(
            "aimd_engine_audio_seconds_total", "Audio seconds sent to remote engines (what vendors bill).", ["engine"],
            registry=r,
        )
        self._mqtt_connected = Gauge("aimd_mqtt_connected", "1 while connected to the MQTT broker.", registry=r)
        self._mqtt_published = Counter(
            "aimd_mqtt_messages_published_total", "MQTT messages acknowledged by the broker.", registry=r
        )
        self._mqtt_errors = Counter("aimd_mqtt_errors_total", "MQTT connection and publish failures.", registry=r)
        self._mqtt_dropped = Counter(
            "aimd_mqtt_messages_dropped_total", "MQTT messages dropped because the outage buffer was full.", registry=r
        )
        self._mqtt_buffered = Gauge("aimd_mqtt_buffered_messages", "MQTT messages waiting for the broker.", registry=r)
        self._serve_streams = Gauge("aimd_serve_streams_open", "Open streaming WebSockets of aimd serve.", registry=r)
        self._serve_batch = Histogram(
            "aimd_serve_batch_duration_seconds", "aimd serve batch requests, upload included.",
            buckets=_INFERENCE_BUCKETS, registry=r,
        )
        self._serve_batch_audio = Counter(
            "aimd_serve_batch_audio_seconds_total", "Audio seconds analysed by aimd serve batch requests.", registry=r
        )
        self._serve_responses = Counter(
            "aimd_serve_http_responses_total", "aimd serve HTTP responses by status code.", ["status"], registry=r
        )

    # ---- process and engines
    def serve_streams_open(self, delta: int) -> None:
        self._serve_streams.inc(delta)

    def serve_batch(self, audio_seconds: float, seconds: float) -> None:
        self._serve_batch.observe(seconds)
        self._serve_batch_audio.inc(audio_seconds)

    def serve_response(self, status: int) -> None:
        self._serve_responses.labels(str(status)).inc()

    def build_info(self, engine: str, model_version: str) -> None:
        self._build.labels(__version__, engine, model_version).set(1)

    def inference(self, engine: str, seconds: float, audio_seconds: float) -> None:
        self._inference.labels(engine).observe(seconds)
        if audio_seconds > 0:
            self._rtf.labels(engine).set(seconds / audio_seconds)

    def engine_request(self, engine: str, outcome: str, seconds: float) -> None:
        """``outcome``: a short fixed word (ok, timeout, error, rejected …), never a message."""
        self._engine_requests.labels(engine, outcome).inc()
        self._engine_duration.labels(engine).observe(seconds)

    def engine_audio_sent(self, engine: str, seconds: float) -> None:
        self._engine_audio.labels(engine).inc(seconds)

    # ---- sources
    def source_up(self, source: str, up: bool) -> None:
        self._up.labels(source).set(1 if up else 0)

    def reconnect(self, source: str) -> None:
        self._reconnects.labels(source).inc()

    def queue_depth(self, source: str, n: int) -> None:
        self._queue.labels(source).set(n)

    def windows_dropped(self, source: str, reason: str, n: int = 1) -> None:
        self._dropped.labels(source, reason).inc(n)

    def window(self, source: str, v: WindowVerdict) -> None:
        self._windows.labels(source, v.decision.value).inc()
        if v.decision is Decision.AI:
            self._ai_seconds.labels(source).inc((v.end_ms - v.start_ms) / 1000.0)
        self._ai_score.labels(source).set(v.ai_score)
        self._rolling.labels(source).set(v.rolling_ai_score)
        self._level.labels(source).set(v.level_dbfs)
        for decision in Decision:
            self._decision.labels(source, decision.value).set(1 if decision is v.decision else 0)
        self._last_window.labels(source).set(v.analysed_at or v.captured_at)
        self._latency.labels(source).observe(v.latency_ms / 1000.0)

    def segment(self, source: str, active: bool, opened: bool) -> None:
        self._segment_active.labels(source).set(1 if active else 0)
        if opened:
            self._segments.labels(source).inc()

    # ---- MQTT (called by MqttPublisher)
    def mqtt_connected(self, connected: bool) -> None:
        self._mqtt_connected.set(1 if connected else 0)

    def mqtt_published(self) -> None:
        self._mqtt_published.inc()

    def mqtt_error(self) -> None:
        self._mqtt_errors.inc()

    def mqtt_dropped(self, n: int = 1) -> None:
        self._mqtt_dropped.inc(n)

    def mqtt_buffered(self, n: int) -> None:
        self._mqtt_buffered.set(n)


#: The process-wide metrics; every component records here.
metrics = Metrics()


class MetricsSink:
    """Implements :class:`~streamer.sinks.base.Sink`: verdicts and source states → metrics."""

    def __init__(self, registry: Metrics = metrics, events: EventSettings | None = None) -> None:
        self._metrics = registry
        self._events = events or EventSettings()
        self._trackers: dict[str, SegmentTracker] = {}

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        self._metrics.window(source_id, verdict)
        tracker = self._trackers.setdefault(source_id, SegmentTracker(self._events))
        events = tracker.feed(verdict)
        self._metrics.segment(source_id, tracker.active, any(e.type is SegmentPhase.START for e in events))

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        # summary.dropped_windows is not added: the pipeline counts drops live
        # through windows_dropped(), and adding the total again would count twice.
        self._trackers.pop(source_id, None)
        self._metrics.segment(source_id, active=False, opened=False)

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        self._metrics.source_up(source_id, state == _RUNNING)
        if state == _RECONNECTING:
            self._metrics.reconnect(source_id)

    async def aclose(self) -> None:
        """Nothing to release: the registry outlives the sinks."""
