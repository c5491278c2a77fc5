"""Wire one stream: source → windower → engine → sinks.

Two tasks per stream, joined by a bounded queue of windows:

* the *capture* task pulls events from the source and cuts windows (cheap,
  pure). It never waits on analysis when the source is live: if the engine
  falls behind, the oldest queued window is dropped and counted;
* the *analysis* task feeds windows to the engine session in order and hands
  each verdict to every sink.

Non-live sources (a file read as fast as possible) wait for the engine
instead, so nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Sequence

from .audio.source import Source, SourceError
from .config import AnalysisSettings
from .engines.base import DeferredSession, Engine, EngineError, EngineSession, StatsSession, StreamInfo
from .sinks.base import EngineStatsSink, Sink, publish_state
from .sinks.metrics import metrics
from .summary import SummaryBuilder
from .types import (
    SAMPLE_RATE,
    ClipVerdict,
    EngineStats,
    Status,
    StreamSummary,
    Window,
    WindowVerdict,
)
from .windowing import Windower

log = logging.getLogger(__name__)

#: Windows queued between capture and analysis for a live source (8 × 4 s = 32 s).
LIVE_QUEUE_WINDOWS = 8


class _WindowQueue:
    """A bounded FIFO of windows; ``live`` decides what happens when it is full."""

    def __init__(self, capacity: int, *, live: bool) -> None:
        self._items: deque[Window | None] = deque()
        self._capacity = capacity
        self._live = live
        self._changed = asyncio.Condition()
        self.dropped = 0

    async def put(self, item: Window | None) -> bool:
        """Queue ``item``; True when the oldest queued window had to be dropped for it."""
        dropped = False
        async with self._changed:
            if item is not None and len(self._items) >= self._capacity:
                if self._live:
                    item = self._drop_oldest(item)
                    dropped = True
                else:
                    await self._changed.wait_for(lambda: len(self._items) < self._capacity)
            self._items.append(item)
            self._changed.notify_all()
        return dropped

    def _drop_oldest(self, incoming: Window) -> Window:
        """Drop the oldest window; its successor carries the audio nobody analysed as its gap
        (the dropped window's own gap plus everything from its start to the successor's).
        Returns ``incoming``, updated when it is that successor."""
        lost = self._items.popleft()
        self.dropped += 1
        successor = self._items[0] if self._items else incoming
        gap_s = lost.gap_before_s + (successor.start_frame - lost.start_frame) / SAMPLE_RATE
        if self._items:
            self._items[0] = dataclasses.replace(successor, gap_before_s=gap_s)
            return incoming
        return dataclasses.replace(incoming, gap_before_s=gap_s)

    async def get(self) -> Window | None:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items))
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    def __len__(self) -> int:
        return len(self._items)


class _ThrottledWarning:
    """Log a recurring condition at most once per interval, with a running count: a source
    that stays over budget should say so, not fill the log with a line per window."""

    INTERVAL_S = 60.0

    def __init__(self, template: str) -> None:
        self._template = template
        self._next = 0.0

    def note(self, count: int) -> None:
        now = time.monotonic()
        if now >= self._next:
            log.warning(self._template, count)
            self._next = now + self.INTERVAL_S


class _StatsRelay:
    """Hands a remote engine session's request stats to the sinks that show them, when they changed."""

    def __init__(self, session: EngineSession, sinks: Sequence[Sink], source_id: str) -> None:
        self._session = session if isinstance(session, StatsSession) else None
        self._sinks = [sink for sink in sinks if isinstance(sink, EngineStatsSink)]
        self._source_id = source_id
        self._last: EngineStats | None = None

    async def report(self) -> None:
        if self._session is None or not self._sinks or (stats := self._session.stats) == self._last:
            return
        self._last = stats
        for sink in self._sinks:
            await sink.on_engine_stats(self._source_id, stats)


async def analyse_stream(
    source: Source,
    engine: Engine,
    settings: AnalysisSettings,
    sinks: Sequence[Sink] = (),
    *,
    keep_windows: bool = False,
    file_input: bool = False,
    max_seconds: float | None = None,
) -> StreamSummary:
    """Analyse ``source`` to its end (or until cancelled, or ``max_seconds`` of audio) and return the summary.

    Source failures become a summary with the matching status rather than an
    exception, so one bad input never stops its neighbours. Cancelling the
    task finishes the windows already cut, then returns the summary.
    """
    windower = Windower(settings.window.length_s, settings.window.hop_s)
    builder = SummaryBuilder(
        settings.decision,
        settings.accept,
        engine=engine.name,
        model_version=engine.model_version,
        keep_windows=keep_windows,
    )
    queue = _WindowQueue(LIVE_QUEUE_WINDOWS, live=source.live)
    session = engine.open_session(StreamInfo(source_id=source.id, live=source.live))
    failure: tuple[Status, str] | None = None
    stats = _StatsRelay(session, sinks, source.id)

    limit = None if max_seconds is None else round(max_seconds * SAMPLE_RATE)
    drop_warning = _ThrottledWarning(f"{source.id}: engine behind real time, %d windows dropped so far")

    async def capture() -> None:
        nonlocal failure
        try:
            async for event in source.events():
                for window in windower.feed(event):
                    if await queue.put(window):
                        metrics.windows_dropped(source.id, "engine_behind")
                        drop_warning.note(queue.dropped)
                    metrics.queue_depth(source.id, len(queue))
                if limit is not None and windower.frames_received >= limit:
                    break
        except SourceError as exc:
            failure = (exc.status, exc.message)
        except asyncio.CancelledError:
            pass  # stop capturing; what is queued still gets analysed
        finally:
            await queue.put(None)

    async def judge(window: Window) -> list[WindowVerdict]:
        if isinstance(session, DeferredSession):
            return await session.submit(window)  # verdicts of earlier windows carry their own times
        verdict = await session.analyze(window)
        return [dataclasses.replace(verdict, captured_at=window.captured_at, gap_before_s=window.gap_before_s)]

    async def publish(verdicts: list[WindowVerdict]) -> None:
        for verdict in verdicts:
            verdict = dataclasses.replace(verdict, analysed_at=time.time())
            builder.add(verdict)
            for sink in sinks:
                await sink.on_window(source.id, verdict)

    async def analyse() -> None:
        nonlocal failure
        while (window := await queue.get()) is not None:
            if failure is not None and failure[0] is Status.ERROR:
                continue  # the engine already failed: drain the queue
            started = time.perf_counter()
            in_flight = asyncio.ensure_future(judge(window))
            cancelled = False
            try:
                try:
                    verdicts = await asyncio.shield(in_flight)
                except asyncio.CancelledError:
                    # Stopping must not lose the window being analysed: finish it, publish it,
                    # then let the caller drain the queue.
                    cancelled = True
                    verdicts = await in_flight
            except EngineError as exc:
                failure = (Status.ERROR, str(exc))
                await stats.report()
                if cancelled:
                    raise asyncio.CancelledError from None
                continue
            metrics.inference(engine.name, time.perf_counter() - started, window.frames / SAMPLE_RATE)
            metrics.queue_depth(source.id, len(queue))
            await stats.report()
            await publish(verdicts)
            if cancelled:
                raise asyncio.CancelledError
        if isinstance(session, DeferredSession) and not (failure is not None and failure[0] is Status.ERROR):
            try:
                await publish(await session.flush())
            except EngineError as exc:
                failure = (Status.ERROR, str(exc))

    await publish_state(sinks, source.id, "running")
    capture_task = asyncio.create_task(capture(), name=f"capture:{source.id}")
    try:
        await analyse()
    except asyncio.CancelledError:
        capture_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await capture_task
        await analyse()  # finish the windows already cut
    finally:
        capture_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await capture_task
        with contextlib.suppress(Exception):
            await source.aclose()

    duration_s = windower.frames_received / SAMPLE_RATE
    summary = await _summarise(session, builder, windower, queue.dropped, duration_s, failure, file_input)
    await stats.report()  # finishing (flush, done) made requests too
    for sink in sinks:
        await sink.on_summary(source.id, summary)
    await publish_state(sinks, source.id, "stopped")
    return summary


async def _summarise(session, builder, windower, dropped, duration_s, failure, file_input) -> StreamSummary:
    if failure is not None and (failure[0] is Status.ERROR or windower.frames_received == 0):
        status, message = failure
    else:
        status, message = builder.status_for(duration_s, file_input=file_input), ""
    try:
        clip = await session.finish()
    except EngineError as exc:
        clip = ClipVerdict(ai_score=0.0, is_ai=False)
        status, message = Status.ERROR, str(exc)
    finally:
        await session.aclose()
    return builder.build(
        clip,
        duration_s=duration_s,
        status=status,
        message=message,
        gap_seconds=windower.frames_lost / SAMPLE_RATE,
        dropped_windows=dropped,
    )
