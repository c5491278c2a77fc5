"""What every sink promises the pipeline.

Sinks are called in stream order from the pipeline's task. They must return
quickly: a sink that talks to the network (MQTT) queues and returns, so a slow
or dead peer never holds up analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..types import EngineStats, StreamSummary, WindowVerdict


class Sink(Protocol):
    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None: ...

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None: ...

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        """``state`` is one of ``starting running reconnecting circuit-open stopped``."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EngineStatsSink(Protocol):
    """Optional: a sink that shows what a remote engine's requests cost (see ``StatsSession``).

    Called from the pipeline's task when a session's stats changed, before
    the verdicts those requests produced.
    """

    async def on_engine_stats(self, source_id: str, stats: EngineStats) -> None: ...


async def publish_state(sinks: Sequence[Sink], source_id: str, state: str, detail: str = "") -> None:
    """Tell every sink that a source changed state (running, reconnecting, stopped …)."""
    for sink in sinks:
        await sink.on_source_state(source_id, state, detail)


class SinkBase:
    """No-op implementations of :class:`Sink`: subclass it and override what you need."""

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        pass

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        pass

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        pass

    async def aclose(self) -> None:
        pass
