"""16 sources in one Service: every window accounted for (analysed + dropped = expected), memory flat."""

from __future__ import annotations

import asyncio
import resource
from collections import Counter
from pathlib import Path

import audio_fixtures as fx
from icecast import Icecast

from streamer.service.config import ServiceConfig
from streamer.service.runner import EnginePool, Service
from streamer.types import StreamSummary, WindowVerdict

SOURCES = 16
WINDOW_S = 1.0
RUN_S = 20.0


class CountingSink:
    def __init__(self) -> None:
        self.windows: Counter[str] = Counter()
        self.states: dict[str, list[str]] = {}

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        self.windows[source_id] += 1

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        pass

    async def on_source_state(self, source_id: str, state: str, detail: str = "") -> None:
        self.states.setdefault(source_id, []).append(state)

    async def aclose(self) -> None:
        pass


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_sixteen_sources_account_for_every_window(tmp_path: Path) -> None:
    song = fx.encode(tmp_path / "song.mp3", fx.music(8.0), 44100, "mp3")
    with Icecast(tmp_path) as icecast:
        station = await asyncio.to_thread(icecast.feed, "radio.mp3", song)
        config = ServiceConfig.model_validate(
            {
                "defaults": {"window": {"length_s": WINDOW_S}, "supervision": {"start_jitter_s": WINDOW_S}},
                "sources": [{"id": f"r{i:02d}", "type": "url", "url": station.url} for i in range(SOURCES)],
            }
        )
        sink = CountingSink()
        engines = EnginePool()
        service = Service([sink], engines)
        await service.apply(config)
        await asyncio.sleep(RUN_S / 3)
        rss_early = rss_mb()
        await asyncio.sleep(RUN_S * 2 / 3)
        rss_late = rss_mb()
        await service.stop()
        await engines.aclose()
    assert len(service.summaries) == SOURCES
    for source_id, summary in service.summaries.items():
        expected = int(summary.duration_s / WINDOW_S + 1e-6)
        assert summary.window_count + summary.dropped_windows == expected, source_id
        assert sink.windows[source_id] == summary.window_count
        assert summary.gap_seconds == 0 and summary.duration_s >= RUN_S - 2 * WINDOW_S
        assert sink.states[source_id] == ["starting", "running", "stopped"]
    assert rss_late - rss_early < 30, f"memory grew from {rss_early:.0f} to {rss_late:.0f} MB"
