"""Benchmark ``aimd serve`` as users meet it: a server process on loopback, real clients.

* batch: median / p90 latency of a Modulate batch request for an 89 s MP3, upload included;
* streaming: N concurrent real-time WebSocket streams (raw s16le 44.1 kHz stereo, 100 ms
  chunks); latency of each ``window`` message after the window's last byte was sent;
* idle: server memory (RSS) per open WebSocket that sends nothing.

    .venv/bin/python scripts/bench_serve.py [--file song.mp3] [--streams 32] [--stream-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamer.audio.encode import encode_bytes
from streamer.synth import music

RATE = 44_100
CHUNK_S = 0.1
WINDOW_S = 4.0
STREAM_PATH = "/api/velma-2-ai-music-detection-streaming"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, data_dir: str, max_concurrent: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamer", "serve", "--open", "--port", str(port), "--data-dir", data_dir,
               "--max-concurrent-per-key", str(max_concurrent)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS")


def bench_batch(base: str, mp3: bytes, repeat: int) -> list[float]:
    url = f"{base}/api/velma-2-ai-music-detection-batch"
    latencies = []
    with requests.Session() as http:
        for i in range(repeat + 1):
            started = time.perf_counter()
            resp = http.post(url, files={"upload_file": ("song.mp3", mp3)}, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            resp.raise_for_status()
            if i:  # the first request warms caches (model load, imports)
                latencies.append(elapsed)
    return latencies


async def one_stream(ws_base: str, pcm: bytes, delay_s: float) -> list[float]:
    """After ``delay_s``, send ``pcm`` in real time; return each window message's delay after its last byte was sent."""
    await asyncio.sleep(delay_s)
    chunk = int(CHUNK_S * RATE) * 4
    window_bytes = int(WINDOW_S * RATE) * 4
    sent_at: dict[int, float] = {}  # window index → when its last byte went out
    delays: list[float] = []
    async with websockets.connect(f"{ws_base}{STREAM_PATH}?api_key=x&audio_format=s16le&sample_rate={RATE}&num_channels=2") as ws:

        async def receive() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "window":
                    index = message["window"]["start_time_ms"] // int(WINDOW_S * 1000)
                    delays.append((time.perf_counter() - sent_at[index]) * 1000)
                elif message["type"] == "done":
                    return

        receiver = asyncio.create_task(receive())
        start = time.perf_counter()
        for n, offset in enumerate(range(0, len(pcm), chunk)):
            await asyncio.sleep(max(0.0, start + n * CHUNK_S - time.perf_counter()))
            await ws.send(pcm[offset : offset + chunk])
            end = offset + chunk
            if end // window_bytes > offset // window_bytes:
                sent_at[end // window_bytes - 1] = time.perf_counter()
        await ws.send("")
        await receiver
    return delays


async def bench_streams(ws_base: str, streams: int, seconds: float, *, staggered: bool) -> list[float]:
    """``staggered``: independent clients start at spread-out times; otherwise all windows complete together (worst case)."""
    samples = (music(seconds, RATE, 2) * 32767).astype("<i2").tobytes()
    delays = [i * WINDOW_S / streams if staggered else 0.0 for i in range(streams)]
    results = await asyncio.gather(*(one_stream(ws_base, samples, d) for d in delays))
    return [d for r in results for d in r]


async def bench_idle(ws_base: str, pid: int, count: int) -> float:
    before = rss_kib(pid)
    url = f"{ws_base}{STREAM_PATH}?api_key=x&audio_format=mp3"
    sockets = [await websockets.connect(url) for _ in range(count)]
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    for ws in sockets:
        await ws.close()
    return (after - before) / count


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, help="MP3 for the batch test (default: 89 s synthesised)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--stream-seconds", type=float, default=20.0)
    parser.add_argument("--idle", type=int, default=200)
    args = parser.parse_args()
    mp3 = args.file.read_bytes() if args.file else encode_bytes(music(89.0, RATE, 2), RATE, "mp3")
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir, max(args.streams, args.idle) + 1)
        try:
            base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
            batch = bench_batch(base, mp3, args.repeat)
            print(f"batch 89 s MP3 ({len(mp3) / 1e6:.1f} MB): median {statistics.median(batch):.0f} ms, "
                  f"p90 {pct(batch, 90):.0f} ms, min {min(batch):.0f} ms over {len(batch)}")  # fmt: skip
            for staggered in (True, False):
                delays = asyncio.run(bench_streams(ws_base, args.streams, args.stream_seconds, staggered=staggered))
                print(f"streaming {args.streams} × real time ({'staggered starts' if staggered else 'simultaneous starts'}): "
                      f"{len(delays)} windows, window message after last byte: median {statistics.median(delays):.1f} ms, "
                      f"p99 {pct(delays, 99):.1f} ms, max {max(delays):.1f} ms")  # fmt: skip
            per_socket = asyncio.run(bench_idle(ws_base, server.pid, args.idle))
            print(f"idle: {args.idle} open WebSockets cost {per_socket:.0f} KiB each (server RSS)")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
