"""The MQTT sink: window verdicts, decisions, AI-music segments and summaries
go to ``<prefix>/<instance>/source/<id>/…`` through the shared publisher."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..types import Decision, EngineStats, StreamSummary, WindowVerdict
from .events import SegmentEvent, SegmentTracker
from .metrics import Metrics
from .metrics import metrics as process_metrics
from .mqtt_buffer import Message
from .mqtt_discovery import discovery_message
from .mqtt_payloads import InstanceInfo, engine_payload, event_payload, info_payload, summary_payload, window_payload
from .mqtt_publisher import ONLINE, MqttPublisher
from .settings import MqttSettings

#: Pipeline source states → the per-source status vocabulary on MQTT.
SOURCE_STATUS = {
    "starting": "reconnecting",
    "running": ONLINE.decode(),
    "reconnecting": "reconnecting",
    "circuit-open": "reconnecting",
    "stopped": "offline",
    "disabled": "disabled",
}
#: A remote engine's stats change with every request: the retained ``engine`` topic is refreshed at most
#: this often per source (and with the summary), so it never crowds windows out of the outage buffer.
ENGINE_STATS_INTERVAL_S = 30.0


@dataclass(slots=True)
class _SourceState:
    tracker: SegmentTracker
    status: str = "reconnecting"
    decision: Decision | None = None
    seq: int = 0
    engine_stats: EngineStats | None = None
    engine_stats_sent: bool = True
    engine_stats_next: float = 0.0  # monotonic


class MqttSink:
    """Implements :class:`~streamer.sinks.base.Sink`. Owns ``publisher``: ``aclose()`` closes it."""

    def __init__(self, publisher: MqttPublisher, info: InstanceInfo) -> None:
        self._publisher = publisher
        self._settings = publisher.settings
        self._topics = publisher.topics
        self._info = info
        self._sources: dict[str, _SourceState] = {}
        publisher.on_connect(self._retained_state)
        if self._settings.discovery:
            # HA's birth message: it lost its discovery state, send it again.
            publisher.on_message(f"{self._settings.discovery_prefix}/status", self._ha_status)

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        source = self._source(source_id)
        source.status = SOURCE_STATUS.get(state, "offline")
        self._publish(source_id, "status", source.status.encode(), retain=True)

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        source = self._source(source_id)
        payload = window_payload(self._topics.instance, source_id, source.seq, self._info.engine, verdict)
        source.seq += 1
        self._publish(source_id, "window", payload)
        if verdict.decision is not source.decision:
            source.decision = verdict.decision
            self._publish(source_id, "state", verdict.decision.value.encode(), retain=True)
        self._publish_events(source_id, source.tracker.feed(verdict))

    async def on_engine_stats(self, source_id: str, stats: EngineStats) -> None:
        source = self._source(source_id)
        source.engine_stats, source.engine_stats_sent = stats, False
        if time.monotonic() >= source.engine_stats_next:
            self._publish_engine_stats(source_id, source)

    def _publish_engine_stats(self, source_id: str, source: _SourceState) -> None:
        source.engine_stats_sent, source.engine_stats_next = True, time.monotonic() + ENGINE_STATS_INTERVAL_S
        self._publish(source_id, "engine", self._engine_payload(source_id, source), retain=True)

    def _engine_payload(self, source_id: str, source: _SourceState) -> bytes:
        assert source.engine_stats is not None
        return engine_payload(self._topics.instance, source_id, source.engine_stats)

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        source = self._source(source_id)
        if not source.engine_stats_sent:
            self._publish_engine_stats(source_id, source)
        self._publish_events(source_id, source.tracker.finish())
        self._publish(source_id, "summary", summary_payload(self._topics.instance, source_id, summary), retain=True)

    async def aclose(self) -> None:
        await self._publisher.aclose()

    def _source(self, source_id: str) -> _SourceState:
        source = self._sources.get(source_id)
        if source is None:
            source = self._sources[source_id] = _SourceState(SegmentTracker(self._settings.events))
            for m in self._announce(source_id):
                self._publisher.publish(m.topic, m.payload, retain=m.retain)
        return source

    def _publish(self, source_id: str, leaf: str, payload: bytes, *, retain: bool = False) -> None:
        self._publisher.publish(self._topics.source(source_id, leaf), payload, retain=retain)

    def _publish_events(self, source_id: str, events: Iterable[SegmentEvent]) -> None:
        for event in events:
            self._publish(source_id, "event", event_payload(self._topics.instance, source_id, event))

    def _info_message(self) -> Message:
        payload = info_payload(self._topics.instance, self._info, list(self._sources))
        return Message(self._topics.info, payload, retain=True)

    def _announce(self, source_id: str) -> list[Message]:
        """A new source changes the info and, with discovery, adds an HA device."""
        messages = [self._info_message()]
        if self._settings.discovery:
            messages.append(discovery_message(self._settings.discovery_prefix, self._topics, source_id))
        return messages

    def _retained_state(self) -> list[Message]:
        """Everything retained, as it is now: a restarted broker may have lost it."""
        messages = [self._info_message()]
        for source_id, source in self._sources.items():
            if self._settings.discovery:
                messages.append(discovery_message(self._settings.discovery_prefix, self._topics, source_id))
            messages.append(Message(self._topics.source(source_id, "status"), source.status.encode(), retain=True))
            if source.decision is not None:
                state = source.decision.value.encode()
                messages.append(Message(self._topics.source(source_id, "state"), state, retain=True))
            if source.engine_stats is not None:
                payload = self._engine_payload(source_id, source)
                messages.append(Message(self._topics.source(source_id, "engine"), payload, retain=True))
        return messages

    def _ha_status(self, payload: bytes) -> list[Message]:
        if payload != ONLINE:
            return []
        return [discovery_message(self._settings.discovery_prefix, self._topics, s) for s in self._sources]


def create_mqtt_sink(settings: MqttSettings, info: InstanceInfo, *, metrics: Metrics = process_metrics) -> MqttSink:
    """The publisher and its sink, connecting in the background. Call inside the event loop."""
    publisher = MqttPublisher(settings, metrics=metrics)
    sink = MqttSink(publisher, info)  # registers its birth messages before the first connect
    publisher.start()
    return sink
