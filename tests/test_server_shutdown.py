"""``aimd serve`` as a process: SIGTERM / SIGINT stop it cleanly (exit 0), closing open streams with 1001."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
import requests
import websockets
from services import free_port


def _start(tmp_path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamer", "serve", "--open", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
            return proc
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_the_server_cleanly(tmp_path, sig):
    port = free_port()
    proc = await asyncio.to_thread(_start, tmp_path, port)
    try:
        url = f"ws://127.0.0.1:{port}/api/velma-2-ai-music-detection-streaming?api_key=x&audio_format=s16le&sample_rate=16000&num_channels=1"
        async with websockets.connect(url) as ws:
            await ws.send(bytes(3200))
            proc.send_signal(sig)
            await ws.wait_closed()
            assert ws.close_code == 1001
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
