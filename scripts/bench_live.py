#!/usr/bin/env python3
"""Live mode latency: how long after a window's last sample arrives is its verdict ready?

Target (issue: the pipeline): p99 ≤ 50 ms with 16 concurrent sources paced at
real time in one process. Each source is a file paced at real time
(`--realtime`), which is how a live feed reaches the windower; the verdict's
latency is analysed_at − captured_at of the window's last sample.

Independent stations connect at independent times, so by default each source
starts after a random delay within one window (seeded). `--aligned` starts
them all in the same instant — every window of every source then completes at
once, the worst case, which measures queueing rather than analysis.

    .venv/bin/python scripts/bench_live.py [--sources 16] [--seconds 40] [--aligned]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.audio.encode import encode  # noqa: E402
from streamer.audio.sources import open_source  # noqa: E402
from streamer.config import AnalysisSettings  # noqa: E402
from streamer.engines import create_engine  # noqa: E402
from streamer.pipeline import analyse_stream  # noqa: E402
from streamer.sinks.base import SinkBase  # noqa: E402
from streamer.synth import music  # noqa: E402


class LatencySink(SinkBase):
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []

    async def on_window(self, source_id, verdict) -> None:
        self.latencies_ms.append(verdict.latency_ms)


async def _delayed(delay_s: float, coro):
    await asyncio.sleep(delay_s)
    return await coro


async def run(sources: int, seconds: float, aligned: bool) -> None:
    settings = AnalysisSettings()
    engine = create_engine(settings)
    sink = LatencySink()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(sources):
            path = Path(tmp) / f"station{i}.mp3"
            encode(music(seconds, seed=i), 44_100, path, "mp3")
            paths.append(str(path))
        rng = np.random.default_rng(0)
        delays = np.zeros(sources) if aligned else rng.uniform(0, settings.window.length_s, sources)
        tasks = [
            _delayed(d, analyse_stream(open_source(p, realtime=True), engine, settings, [sink]))
            for p, d in zip(paths, delays)
        ]
        summaries = await asyncio.gather(*tasks)
    await engine.aclose()
    lat = np.array(sink.latencies_ms)
    dropped = sum(s.dropped_windows for s in summaries)
    start = "aligned starts" if aligned else "staggered starts"
    print(f"{sources} sources × {seconds:.0f} s at real time ({start}), {len(lat)} windows, {dropped} dropped")
    print(f"  window → verdict latency: p50 {np.percentile(lat, 50):.1f} ms, "
          f"p99 {np.percentile(lat, 99):.1f} ms, max {lat.max():.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--aligned", action="store_true", help="start every source at the same instant (worst case)")
    args = parser.parse_args()
    asyncio.run(run(args.sources, args.seconds, args.aligned))


if __name__ == "__main__":
    main()
