"""Benchmark the MQTT output against a real local Mosquitto.

    .venv/bin/python scripts/bench_mqtt.py [--sources 64] [--ticks 50] [--tick-s 0.1]

1. Latency: every tick, each source hands one window verdict to MqttSink; a
   ``mosquitto_sub`` in its own process (so it does not compete with aimd for
   the GIL) timestamps each message; latency = on_window() call → received.
   ``spread``: the sources' windows are staggered across the tick, as streams
   started at different moments are; ``burst``: all sources finish a window in
   the same instant (worst case). Ticks run 40× faster than 4 s windows.
2. Outage buffer: memory held by ``--sources`` × 10 minutes of 4 s windows
   queued while the broker is down (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from services import Mosquitto
from sink_fixtures import verdict

from streamer.sinks.metrics import Metrics
from streamer.sinks.mqtt_payloads import InstanceInfo
from streamer.sinks.mqtt_publisher import MqttPublisher
from streamer.sinks.mqtt_sink import MqttSink
from streamer.sinks.settings import MqttSettings
from streamer.types import Decision

INFO = InstanceInfo(engine="local", model_version="bench", window_s=4.0, hop_s=4.0)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1]


def subscribe(broker: Mosquitto, topic: str, lines: list[str]) -> subprocess.Popen[str]:
    """mosquitto_sub appending "<receive time, Unix seconds> <payload>" to ``lines``.

    A thread drains its pipe at once: a full pipe would stall it and fake latency."""
    command = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic, "-F", "%U %p"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True).start()
    time.sleep(0.5)  # let it subscribe: window messages are not retained
    return child


async def latency(broker: Mosquitto, sources: int, ticks: int, tick_s: float, *, burst: bool) -> dict[str, float]:
    publisher = MqttPublisher(MqttSettings(url=broker.url, instance="bench"), metrics=Metrics())
    sink = MqttSink(publisher, INFO)
    sent: dict[tuple[str, int], float] = {}
    call_us: list[float] = []
    lines: list[str] = []
    subscriber = subscribe(broker, "aimd/bench/source/+/window", lines)
    publisher.start()
    await publisher.wait_connected(5)
    for tick in range(ticks):
        for s in range(sources):
            source = f"src{s:02d}"
            v = verdict(tick, Decision.AI if tick % 7 < 4 else Decision.HUMAN)
            started = time.perf_counter()
            sent[(source, tick)] = time.time()
            await sink.on_window(source, v)
            call_us.append((time.perf_counter() - started) * 1e6)
            if not burst:
                await asyncio.sleep(tick_s / sources)
        if burst:
            await asyncio.sleep(tick_s)
    await sink.aclose()
    deadline = time.monotonic() + 30
    while len(lines) < sources * ticks and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    subscriber.terminate()
    delays = []
    for line in lines:
        received_s, payload = line.split(" ", 1)
        message = json.loads(payload)
        delays.append((float(received_s) - sent[(message["source"], message["seq"])]) * 1000)
    mode = "burst" if burst else "spread"
    return {
        f"{mode}_messages": len(delays),
        f"{mode}_deliver_p50_ms": percentile(delays, 0.5),
        f"{mode}_deliver_p99_ms": percentile(delays, 0.99),
        f"{mode}_deliver_max_ms": max(delays),
        f"{mode}_on_window_p99_us": percentile(call_us, 0.99),
    }


async def outage_memory(sources: int, minutes: float) -> dict[str, float]:
    # Nothing listens on this URL: every message stays in the outage buffer.
    settings = MqttSettings(url="mqtt://127.0.0.1:9", instance="bench", buffer_messages=1_000_000)
    publisher = MqttPublisher(settings, metrics=Metrics())
    sink = MqttSink(publisher, INFO)
    windows = int(minutes * 60 / INFO.window_s)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(windows):
        for s in range(sources):
            await sink.on_window(f"src{s:02d}", verdict(i, Decision.AI if i % 7 < 4 else Decision.HUMAN))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {"buffered_messages": publisher.pending, "buffer_mb": grown / 1e6}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=64)
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--tick-s", type=float, default=0.1)
    parser.add_argument("--outage-minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        result = await latency(broker, args.sources, args.ticks, args.tick_s, burst=False)
        result |= await latency(broker, args.sources, args.ticks, args.tick_s, burst=True)
    result |= await outage_memory(args.sources, args.outage_minutes)
    print(json.dumps({k: round(v, 3) for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
