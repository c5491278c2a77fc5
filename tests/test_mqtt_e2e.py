"""End to end through ``aimd run --source - --mqtt …`` (a subprocess fed raw PCM
on stdin, so the test sets the pace): a 30 s broker outage mid-stream loses no
window, and ``kill -9`` leaves the retained ``offline``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from services import Mosquitto, MqttCollector, free_port

RATE = 44_100
WINDOW_S = 1.0  # short windows keep the test short; the contract is the same
OUTAGE_S = 30.0
AIMD = [sys.executable, "-m", "streamer"]


def pcm(seconds: float, start_s: float = 0.0) -> bytes:
    """Mono s16le: a tone with a little noise, continuous across calls."""
    t = start_s + np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(int(start_s * 10))
    audio = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.standard_normal(t.size)
    return (audio * 32767).astype("<i2").tobytes()


@pytest.fixture
def aimd_run(tmp_path: Path) -> Iterator:
    children: list[subprocess.Popen[bytes]] = []

    def start(broker: Mosquitto, instance: str, *extra: str) -> subprocess.Popen[bytes]:
        command = [*AIMD, "run", "--source", "-", "--format", "s16le", "--rate", str(RATE), "--channels", "1",
                   "--window", str(WINDOW_S), "--mqtt", broker.url, "--instance", instance, *extra]
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=tmp_path)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


async def feed(child: subprocess.Popen[bytes], seconds: float, start_s: float, *, paced: bool) -> float:
    """Write ``seconds`` of audio in 1 s blocks, at real time when ``paced``."""
    assert child.stdin is not None
    for i in range(int(seconds)):
        child.stdin.write(pcm(1.0, start_s + i))
        child.stdin.flush()
        if paced:
            await asyncio.sleep(1.0)
    return start_s + int(seconds)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def window_seqs(inbox: MqttCollector) -> list[int]:
    return [json.loads(m.payload)["seq"] for m in inbox.messages if m.topic.endswith("/window")]


async def test_broker_outage_mid_stream_loses_no_window(tmp_path: Path, aimd_run) -> None:
    with Mosquitto(tmp_path, persistence=True) as broker:
        async with MqttCollector(broker.port, "aimd/e2e/#", session_id="e2e-subscriber") as inbox:
            metrics_port = free_port()
            child = aimd_run(broker, "e2e", "--metrics-port", str(metrics_port))
            at = await feed(child, 5, 0.0, paced=False)
            await inbox.wait_for(lambda _: len(window_seqs(inbox)) >= 4, timeout=30)
            assert "aimd_mqtt_connected 1.0" in scrape(metrics_port)

            broker.stop()
            at = await feed(child, OUTAGE_S, at, paced=True)
            during_outage = scrape(metrics_port)
            broker.start()
            at = await feed(child, 3, at, paced=False)
            assert child.stdin is not None
            child.stdin.close()
            await asyncio.to_thread(child.wait, 60)
            await inbox.wait_for(lambda msgs: any(m.payload == b"stopped" for m in msgs), timeout=30)

    assert "aimd_mqtt_connected 0.0" in during_outage
    assert 'source="stdin"' in during_outage and "aimd_windows_analyzed_total{" in during_outage
    seqs = window_seqs(inbox)
    expected = int(at / WINDOW_S)
    assert list(dict.fromkeys(seqs)) == list(range(expected)), "every window, in order (duplicates allowed: QoS 1)"
    summary = [json.loads(m.payload) for m in inbox.messages if m.topic == "aimd/e2e/source/stdin/summary"]
    assert summary and summary[-1]["window_count"] == expected
    assert child.returncode == 0


async def test_kill_9_leaves_retained_offline(tmp_path: Path, aimd_run) -> None:
    with Mosquitto(tmp_path) as broker:
        async with MqttCollector(broker.port, "aimd/doomed/#") as inbox:
            child = aimd_run(broker, "doomed")
            await feed(child, 3, 0.0, paced=False)
            await inbox.wait_for(lambda msgs: any(m.topic.endswith("/window") for m in msgs), timeout=30)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        async with MqttCollector(broker.port, "aimd/doomed/status") as status:
            await status.wait_for(lambda msgs: bool(msgs) and msgs[-1].payload == b"offline", timeout=10)
        assert status.messages[-1].retain
