"""Forwarding overhead of the ``modulate`` engine: N real-time sources streaming to an ``aimd serve`` on loopback.

Starts ``aimd serve --open`` as a child process (its analysis CPU is not ours),
runs N paced sources through the pipeline with the modulate engine in this
process, and reports this process's CPU (% of one core) and the window
latency (last sample captured → verdict back), p50 / p99 / max.

    .venv/bin/python scripts/bench_remote.py --sources 16 --seconds 40
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.config import AnalysisSettings
from streamer.engines import create_engine
from streamer.engines.remote import RemoteEngineSettings
from streamer.pipeline import analyse_stream
from streamer.synth import music
from streamer.types import SAMPLE_RATE, PcmBlock

BLOCK_S = 0.1


class PacedSource:
    """Audio released at real time in 0.1 s blocks, like a sound card."""

    live = True

    def __init__(self, source_id: str, samples: np.ndarray, delay_s: float) -> None:
        self.id = source_id
        self._samples = samples
        self._delay_s = delay_s

    async def events(self):
        await asyncio.sleep(self._delay_s)
        block = round(BLOCK_S * SAMPLE_RATE)
        started = time.monotonic()
        for i, start in enumerate(range(0, len(self._samples) - block + 1, block)):
            await asyncio.sleep(max(0.0, started + (i + 1) * BLOCK_S - time.monotonic()))
            yield PcmBlock(start, self._samples[start : start + block], time.time())

    async def aclose(self) -> None:
        return None


class LatencySink:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []

    async def on_window(self, source_id, verdict) -> None:
        self.latencies_ms.append(verdict.latency_ms)

    async def on_summary(self, source_id, summary) -> None: ...

    async def on_source_state(self, source_id, state, detail="") -> None: ...

    async def aclose(self) -> None: ...


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("aimd serve did not start")


async def _bench(url: str, sources: int, seconds: float, stagger: bool) -> tuple[float, float, list[float]]:
    analysis = AnalysisSettings(engine="modulate")
    engine = create_engine(analysis, RemoteEngineSettings(url=url, api_key="bench"))
    sink = LatencySink()
    audio = music(seconds, SAMPLE_RATE, seed=1)
    cpu0, wall0 = time.process_time(), time.monotonic()
    # Real sources are not phase-aligned; --aligned makes every window of every source end at once (worst case).
    delays = [4.0 * i / sources if stagger else 0.0 for i in range(sources)]
    await asyncio.gather(*(analyse_stream(PacedSource(f"s{i}", audio, d), engine, analysis, [sink]) for i, d in enumerate(delays)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await engine.aclose()
    return cpu, wall, sink.latencies_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--aligned", action="store_true", help="start every source at once (windows end together)")
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([sys.executable, "-m", "streamer", "serve", "--open", "--port", str(port), "--data-dir", data],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            _wait_for(port)
            cpu, wall, latencies = asyncio.run(_bench(f"ws://127.0.0.1:{port}", args.sources, args.seconds, not args.aligned))
        finally:
            server.terminate()
            server.wait(10)
    lat = np.array(latencies)
    print(f"sources={args.sources} {'aligned' if args.aligned else 'staggered'} audio={args.seconds:g}s windows={len(lat)} wall={wall:.1f}s")
    print(f"client CPU: {100 * cpu / wall:.2f} % of one core ({cpu:.2f} s)")
    print(f"latency ms: p50={np.percentile(lat, 50):.1f} p99={np.percentile(lat, 99):.1f} max={lat.max():.1f}")


if __name__ == "__main__":
    main()
