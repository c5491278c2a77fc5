"""Shared by the test_remote_* modules: an in-memory source, a sink keeping engine stats, and a one-call analysis."""

from __future__ import annotations

import time

import numpy as np
from audio_fixtures import music

from streamer.config import AnalysisSettings
from streamer.engines import create_engine
from streamer.engines.remote import RemoteEngineSettings
from streamer.pipeline import analyse_stream
from streamer.sinks.base import SinkBase
from streamer.types import EngineStats, PcmBlock, StreamSummary


class ArraySource:
    """Synthetic audio as 0.1 s blocks, read as fast as the engine takes it (a file)."""

    live = False

    def __init__(self, samples: np.ndarray, source_id: str = "radio 1") -> None:
        self.id = source_id
        self._samples = samples

    async def events(self):
        for start in range(0, len(self._samples), 4410):
            yield PcmBlock(start, self._samples[start : start + 4410], time.time())

    async def aclose(self) -> None:
        return None


class StatsSink(SinkBase):
    """Every engine-stats snapshot the pipeline hands the sinks, in order."""

    def __init__(self) -> None:
        self.stats: list[EngineStats] = []

    async def on_engine_stats(self, source_id: str, stats: EngineStats) -> None:
        self.stats.append(stats)


async def analyse(engine_name: str, remote: RemoteEngineSettings, seconds: float = 13.0, sinks=()) -> StreamSummary:
    analysis = AnalysisSettings(engine=engine_name)
    engine = create_engine(analysis, remote)
    try:
        return await analyse_stream(ArraySource(music(seconds, 44100, 2)), engine, analysis, sinks, keep_windows=True)
    finally:
        await engine.aclose()
