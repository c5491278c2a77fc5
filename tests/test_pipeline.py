"""The pipeline's promises that only show under stress: nothing in flight is lost when it stops."""

from __future__ import annotations

import asyncio

from streamer.audio.encode import encode
from streamer.audio.sources import open_source
from streamer.config import AnalysisSettings
from streamer.engines.base import StreamInfo
from streamer.engines.local.engine import LocalEngine
from streamer.pipeline import analyse_stream
from streamer.sinks.base import SinkBase
from streamer.synth import music


class SlowEngine:
    """The real local engine, made slow: the only way to have a window reliably in flight."""

    def __init__(self, delay_s: float) -> None:
        self._engine = LocalEngine()
        self.name, self.model_version = self._engine.name, self._engine.model_version
        self.delay_s = delay_s
        self.started: list[int] = []

    def open_session(self, info: StreamInfo):
        inner = self._engine.open_session(info)
        outer = self

        class Session:
            async def analyze(self, window):
                outer.started.append(window.start_ms)
                await asyncio.sleep(outer.delay_s)
                return await inner.analyze(window)

            async def finish(self):
                return await inner.finish()

            async def aclose(self):
                await inner.aclose()

        return Session()

    async def aclose(self) -> None:
        await self._engine.aclose()


class Recorder(SinkBase):
    def __init__(self) -> None:
        self.published: list[int] = []
        self.first = asyncio.Event()

    async def on_window(self, source_id, verdict) -> None:
        self.published.append(verdict.start_ms)
        self.first.set()


async def test_stopping_finishes_the_window_in_flight_and_those_already_cut(tmp_path):
    path = tmp_path / "song.flac"
    encode(music(60.0, seed=9), 44_100, path, "flac")
    engine, sink = SlowEngine(delay_s=0.3), Recorder()
    task = asyncio.create_task(analyse_stream(open_source(str(path)), engine, AnalysisSettings(), [sink]))
    await sink.first.wait()
    await asyncio.sleep(0.1)  # the second window is now inside the engine
    task.cancel()
    summary = await task
    assert len(engine.started) >= 2
    assert sink.published == engine.started  # every window the engine began is published, in order
    assert summary.window_count == len(sink.published)
    await engine.aclose()


async def test_a_full_live_queue_drops_the_oldest_and_reports_the_lost_audio_as_a_gap():
    import numpy as np

    from streamer.pipeline import _WindowQueue
    from streamer.types import SAMPLE_RATE, Window

    def window(i: int, gap_s: float = 0.0) -> Window:
        return Window(i, i * 4 * SAMPLE_RATE, np.zeros((4 * SAMPLE_RATE, 1), np.float32), 0.0, gap_s)

    queue = _WindowQueue(3, live=True)
    assert [await queue.put(window(i, gap_s=1.5 if i == 0 else 0.0)) for i in range(5)] == [False] * 3 + [True] * 2
    assert queue.dropped == 2
    kept = [await queue.get() for _ in range(3)]
    assert [w.index for w in kept] == [2, 3, 4]
    # windows 0 (after a 1.5 s stream gap) and 1 were never analysed: 1.5 + 8 s missing before window 2
    assert kept[0].gap_before_s == 9.5 and kept[1].gap_before_s == 0.0

    single = _WindowQueue(1, live=True)
    await single.put(window(0))
    await single.put(window(1))
    assert (await single.get()).gap_before_s == 4.0
