"""An unbounded stream (radio) keeps `aimd serve`'s memory flat: 30 minutes through one WebSocket."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import requests
import websockets

from audio_fixtures import music
from services import free_port

MINUTES = 30
CHUNK_S = 10  # one 10 s PCM chunk, sent again and again
STREAM = "/api/velma-2-ai-music-detection-streaming?api_key=k&audio_format=s16le&sample_rate=44100&num_channels=2"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_thirty_minutes_of_audio_keep_server_memory_flat(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamer", "serve", "--api-key", "k", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.1)
        chunk = (music(CHUNK_S, seed=11) * 32767).astype("<i2").tobytes()
        chunks = MINUTES * 60 // CHUNK_S
        rss: dict[int, int] = {}
        windows = 0
        async with websockets.connect(f"ws://127.0.0.1:{port}{STREAM}", max_size=None, compression=None) as ws:

            async def send() -> None:
                for i in range(chunks):
                    await ws.send(chunk)
                    if i in (chunks // 3, chunks - 1):  # after 10 minutes (thread pools and arenas settled), at the end
                        await asyncio.sleep(0.5)
                        rss[i] = _rss_kib(server.pid)
                await ws.send("")

            sender = asyncio.create_task(send())
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "window":
                    windows += 1
                elif message["type"] == "done":
                    done = message
            await sender
        assert windows == MINUTES * 60 // 4 and done["duration_ms"] == MINUTES * 60 * 1000
        warm, end = rss[chunks // 3], rss[chunks - 1]
        # Unbounded buffering grew 444 MB here, and keeping one 1.4 MB window per window would grow ~420 MB;
        # allocator noise between runs is up to ~25 MB.
        assert end - warm < 32 * 1024, f"server RSS grew {(end - warm) / 1024:.1f} MB over the last 20 minutes of audio"
    finally:
        server.terminate()
        server.wait(timeout=10)
