"""What the live status page shows, kept as sink state: O(1) work per window, bounded memory.

:class:`StatusSink` remembers, per source, its state, current decision, the
last ``history`` AI scores, its level and its last event, and pushes each
change to subscribers (the page's Server-Sent Events streams). A subscriber
that cannot keep up loses its backlog and gets a fresh snapshot instead, so a
stalled browser never makes the sink wait or grow.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..sinks.events import SegmentPhase, SegmentTracker
from ..sinks.mqtt_payloads import engine_stats_fields
from ..sinks.settings import EventSettings
from ..types import EngineStats, StreamSummary, WindowVerdict

#: Scores kept per source: 90 windows × 4 s = the last 6 minutes.
HISTORY_WINDOWS = 90
#: Messages queued per subscriber before it is reset to a snapshot.
SUBSCRIBER_BACKLOG = 256

Message = dict[str, Any]


@dataclass(slots=True)
class SourceStatus:
    id: str
    history: int
    state: str = "starting"
    decision: str | None = None
    ai_score: float | None = None
    rolling_ai_score: float | None = None
    level_dbfs: float | None = None
    windows: int = 0
    last_event: str = ""
    updated_at: float = 0.0
    engine: dict[str, Any] | None = None  # a remote engine's request stats (engine_stats_fields)
    scores: deque[float] = field(init=False)
    tracker: SegmentTracker | None = None

    def __post_init__(self) -> None:
        self.scores = deque(maxlen=self.history)

    def as_message(self, *, with_history: bool) -> Message:
        doc: Message = {
            "id": self.id, "state": self.state, "decision": self.decision, "ai_score": self.ai_score,
            "rolling_ai_score": self.rolling_ai_score, "level_dbfs": self.level_dbfs, "windows": self.windows,
            "last_event": self.last_event, "updated_at": self.updated_at, "engine": self.engine,
        }  # fmt: skip
        if with_history:
            doc["scores"] = list(self.scores)
            doc["history"] = self.history
        return doc


#: Queue markers: "send a fresh snapshot" and "the server is stopping".
_RESET, _CLOSE = "reset", "close"


class Subscription:
    """One listener's queue of messages and markers."""

    def __init__(self, sink: StatusSink) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[Message | str] = asyncio.Queue(SUBSCRIBER_BACKLOG)

    def push(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:  # too slow: drop its backlog, the snapshot supersedes it
            self._reset_to(_RESET)

    def close(self) -> None:
        self._reset_to(_CLOSE)

    def _reset_to(self, marker: str) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(marker)

    async def __aiter__(self) -> AsyncIterator[tuple[str, Message | list[Message]]]:
        """("snapshot", every source) first, then ("update", one source) per change, until :meth:`close`."""
        yield "snapshot", self._sink.snapshot()
        while (message := await self._queue.get()) != _CLOSE:
            yield ("snapshot", self._sink.snapshot()) if message == _RESET else ("update", message)


class StatusSink:
    """Implements :class:`~streamer.sinks.base.Sink` for the status page."""

    def __init__(self, history: int = HISTORY_WINDOWS, events: EventSettings | None = None) -> None:
        self._history = history
        self._events = events or EventSettings()
        self._sources: dict[str, SourceStatus] = {}
        self._subscribers: set[Subscription] = set()

    def snapshot(self) -> list[Message]:
        return [status.as_message(with_history=True) for status in self._sources.values()]

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def close_subscribers(self) -> None:
        """End every subscription (server shutdown), so open event streams finish at once."""
        for subscription in self._subscribers:
            subscription.close()

    def _source(self, source_id: str) -> SourceStatus:
        if (status := self._sources.get(source_id)) is None:
            status = self._sources[source_id] = SourceStatus(source_id, self._history)
        return status

    def _publish(self, status: SourceStatus, **extra: Any) -> None:
        status.updated_at = time.time()
        message = status.as_message(with_history=False) | extra
        for subscription in self._subscribers:
            subscription.push(message)

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        status = self._source(source_id)
        status.decision = verdict.decision.value
        status.ai_score = verdict.ai_score
        status.rolling_ai_score = verdict.rolling_ai_score
        status.level_dbfs = verdict.level_dbfs
        status.windows += 1
        status.scores.append(verdict.ai_score)
        if status.tracker is None:
            status.tracker = SegmentTracker(self._events)
        for event in status.tracker.feed(verdict):
            if event.type is SegmentPhase.START:
                status.last_event = f"AI music from {_clock(event.start_ms)}"
            elif event.type is SegmentPhase.END:
                status.last_event = f"AI music {_clock(event.start_ms)}–{_clock(event.end_ms)} ended"
        self._publish(status, score=verdict.ai_score)

    async def on_engine_stats(self, source_id: str, stats: EngineStats) -> None:
        """Kept, not pushed: it rides along with the window update that follows."""
        self._source(source_id).engine = engine_stats_fields(stats)

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        status = self._source(source_id)
        status.tracker = None
        verdict = "AI music" if summary.is_ai else "not AI"
        status.last_event = f"stream ended ({summary.status.value}): {verdict}, AI score {summary.ai_score:.2f}"
        self._publish(status)

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        status = self._source(source_id)
        status.state = state
        status.last_event = f"{state}: {detail}" if detail else state
        self._publish(status)

    def forget(self, source_id: str) -> None:
        """Remove a source's row (a finished ``aimd serve`` stream), so the board stays bounded."""
        if self._sources.pop(source_id, None) is not None:
            for subscription in self._subscribers:
                subscription.push({"id": source_id, "removed": True})

    async def aclose(self) -> None:
        """Nothing to release: the page keeps showing the final state until the server stops."""


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
