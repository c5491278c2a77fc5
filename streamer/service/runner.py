"""Run every configured source at once, each supervised; reload and stop on signals.

One pipeline (:func:`~streamer.pipeline.analyse_stream`) per enabled source,
fed by a :class:`SupervisedSource`, all sharing one set of sinks and one
engine per distinct engine setting. A reload compares the fully resolved
settings of every source and restarts only the sources whose settings changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence

from ..config import AnalysisSettings, DecisionSettings
from ..engines import create_engine
from ..engines.base import Engine
from ..engines.remote import RemoteEngineSettings
from ..pipeline import analyse_stream
from ..sinks.base import EngineStatsSink, Sink, publish_state
from ..types import EngineStats, StreamSummary, WindowVerdict
from .config import EngineConfig, ResolvedSource, ServiceConfig
from .machine import SourceState
from .supervised import SupervisedSource

log = logging.getLogger(__name__)

#: SIGTERM to exit: the issue allows 5 s; sinks get what the sources leave of it.
SOURCES_STOP_S = 3.5
SINKS_STOP_S = 1.0
#: State word for a configured but disabled source (MQTT status ``disabled``).
DISABLED = "disabled"


class ResultsOnly:
    """The sinks as the pipeline sees them: results pass, state changes do not.

    The pipeline reports ``running`` when it starts reading and ``stopped`` when
    it returns; under supervision the source's state machine is the one truth,
    so those two notes are dropped here and the supervisor publishes its own.
    """

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self._sinks = sinks

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        for sink in self._sinks:
            await sink.on_window(source_id, verdict)

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        for sink in self._sinks:
            await sink.on_summary(source_id, summary)

    async def on_engine_stats(self, source_id: str, stats: EngineStats) -> None:
        for sink in self._sinks:
            if isinstance(sink, EngineStatsSink):
                await sink.on_engine_stats(source_id, stats)

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        """Dropped: see the class docstring."""

    async def aclose(self) -> None:
        """The service closes the real sinks itself."""


async def analyse_supervised(
    source: SupervisedSource, engine: Callable[[], Engine], analysis: AnalysisSettings, sinks: Sequence[Sink]
) -> StreamSummary:
    """One supervised source through the pipeline, then ``stopped`` published (also when it failed).

    ``engine`` is called inside, so an engine that cannot be built still ends in ``stopped``.
    """
    try:
        return await analyse_stream(source, engine(), analysis, [ResultsOnly(sinks)], file_input=False)
    finally:
        source.machine.stop()
        await publish_state(sinks, source.id, SourceState.STOPPED)


class EnginePool:
    """One engine per distinct (engine, decision thresholds); sessions are per source."""

    def __init__(self) -> None:
        self._engines: dict[tuple[EngineConfig, DecisionSettings], Engine] = {}

    def get(self, resolved: ResolvedSource) -> Engine:
        key = (resolved.engine, resolved.analysis.decision)
        if key not in self._engines:
            remote = resolved.engine if isinstance(resolved.engine, RemoteEngineSettings) else None
            self._engines[key] = create_engine(resolved.analysis, remote)
        return self._engines[key]

    async def aclose(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.aclose()


class Service:
    """The set of running sources; :meth:`apply` moves it to a new config."""

    def __init__(self, sinks: Sequence[Sink], engines: EnginePool) -> None:
        self.sinks = list(sinks)
        self.engines = engines
        self.summaries: dict[str, StreamSummary] = {}
        self._running: dict[str, tuple[ResolvedSource, asyncio.Task[None], SupervisedSource]] = {}

    @property
    def sources(self) -> dict[str, SupervisedSource]:
        return {source_id: source for source_id, (_, _, source) in self._running.items()}

    async def apply(self, config: ServiceConfig) -> None:
        """Start new sources, stop removed or disabled ones, restart changed ones; leave the rest alone."""
        wanted = config.resolved()
        stale = [sid for sid, (old, _, _) in self._running.items() if wanted.get(sid) != old]
        await asyncio.gather(*(self._stop(sid) for sid in stale))
        for source_id, resolved in wanted.items():
            if not resolved.source.enabled:
                await publish_state(self.sinks, source_id, DISABLED)
            elif source_id not in self._running:
                self._start(resolved)

    async def stop(self, timeout_s: float = SOURCES_STOP_S) -> None:
        """Stop every source: in-flight windows are finished, summaries and ``stopped`` published."""
        ids = list(self._running)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(self._stop(sid) for sid in ids))

    async def wait(self) -> None:
        """Until every source has ended by itself (files); live sources never do."""
        while tasks := [task for _, task, _ in self._running.values()]:
            await asyncio.wait(tasks)

    def _start(self, resolved: ResolvedSource) -> None:
        source = SupervisedSource.configured(resolved, functools.partial(publish_state, self.sinks))
        task = asyncio.create_task(self._run(resolved, source), name=f"source:{resolved.source.id}")
        self._running[resolved.source.id] = (resolved, task, source)

    async def _run(self, resolved: ResolvedSource, source: SupervisedSource) -> None:
        source_id = resolved.source.id
        try:
            summary = await analyse_supervised(source, lambda: self.engines.get(resolved), resolved.analysis, self.sinks)
            self.summaries[source_id] = summary
            log.info("%s: stopped (%s, %.0f s analysed, %.1f s lost)", source_id, summary.status.value,
                     summary.duration_s, summary.gap_seconds, extra={"source": source_id, "state": "stopped"})
        except Exception:  # one broken source must not take the others down
            log.exception("%s: failed", source_id, extra={"source": source_id})
        finally:
            entry = self._running.get(source_id)
            if entry is not None and entry[2] is source:
                del self._running[source_id]

    async def _stop(self, source_id: str) -> None:
        entry = self._running.get(source_id)
        if entry is None:
            return
        _, task, source = entry
        source.request_stop()  # the source ends, the pipeline analyses what it read and summarises
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:  # out of time: cancel, which still finishes the windows queued
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
