#!/usr/bin/env python3
"""Service mode at scale: N real-time radio sources in one ``aimd run -c`` process.

A local Icecast serves 44.1 kHz stereo 128 kbps MP3 on ``--mounts`` mounts
(ffmpeg feeders, codec copy, paced with -re); aimd listens to them ``--sources``
times in total, with the local engine, publishing to a real Mosquitto. A
``mosquitto_sub`` in its own process timestamps every window message.

Reported:
  * windows analysed / expected, dropped (aimd_windows_dropped_total), gap seconds (summaries);
  * p50/p99/max window → MQTT latency: receive time − the window's last-sample capture time;
  * RSS of the aimd process (peak and at the end);
  * CPU of the aimd process per source-hour, and the sources one core carries at that cost.

    .venv/bin/python scripts/bench_service.py [--sources 64] [--mounts 4] [--seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench_mqtt import subscribe
from icecast import Icecast
from services import Mosquitto, free_port

from streamer.audio.encode import encode
from streamer.synth import music

WINDOW_S = 4.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: always one of the measured values."""
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered) + 0.5) - 1)] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape_dropped(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("aimd_windows_dropped_total{"))


def service_config(broker: Mosquitto, urls: list[str], sources: int, metrics_port: int, channels: int | None) -> dict:
    return {
        "defaults": {"window": {"length_s": WINDOW_S}, "channels": channels},
        "mqtt": {"url": broker.url, "instance": "bench"},
        "metrics": {"port": metrics_port},
        "logging": {"level": "warning"},
        "sources": [{"id": f"radio{i:02d}", "type": "url", "url": urls[i % len(urls)]} for i in range(sources)],
    }


async def bench(sources: int, mounts: int, seconds: float, warmup: float, channels: int | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        songs = [work / f"song{i}.mp3" for i in range(mounts)]
        for seed, song in enumerate(songs):
            encode(music(30.0, seed=seed), 44_100, song, "mp3")
        with Mosquitto(work) as broker, Icecast(work, clients=sources + 16) as icecast:
            urls = [icecast.feed(f"radio{i}.mp3", song).url for i, song in enumerate(songs)]
            metrics_port = free_port()
            config = work / "aimd.yaml"
            config.write_text(yaml.safe_dump(service_config(broker, urls, sources, metrics_port, channels)))
            lines: list[str] = []
            subscriber = subscribe(broker, "aimd/bench/source/+/window", lines)
            summaries: list[str] = []
            summary_sub = subscribe(broker, "aimd/bench/source/+/summary", summaries)
            child = subprocess.Popen([sys.executable, "-m", "streamer", "run", "-c", str(config)], cwd=ROOT)
            try:
                await asyncio.sleep(warmup)
                cpu0, t0 = cpu_seconds(child.pid), time.monotonic()
                first_window = len(lines)
                peak_rss = 0.0
                while time.monotonic() - t0 < seconds:
                    await asyncio.sleep(1.0)
                    peak_rss = max(peak_rss, rss_mb(child.pid))
                cpu, elapsed = cpu_seconds(child.pid) - cpu0, time.monotonic() - t0
                end_rss = rss_mb(child.pid)
                dropped = scrape_dropped(metrics_port)
                child.send_signal(signal.SIGTERM)
                stopped_at = time.monotonic()
                code = child.wait(30)
                stop_s = time.monotonic() - stopped_at
                await asyncio.sleep(1.0)
            finally:
                if child.poll() is None:
                    child.kill()
                subscriber.terminate()
                summary_sub.terminate()
    measured = lines[first_window:]
    latencies, analysis, delivery = [], [], []
    for line in measured:
        received, payload = line.split(" ", 1)
        window = json.loads(payload)
        latencies.append((float(received) - window["captured_at"]) * 1000)
        analysis.append(window["latency_ms"])  # capture → verdict ready
        delivery.append((float(received) - window["analysed_at"]) * 1000)  # verdict → subscriber
    docs = [json.loads(line.split(" ", 1)[1]) for line in summaries]
    source_hours = sources * elapsed / 3600
    return {
        "sources": sources,
        "channels": channels or "as input (stereo)",
        "measured_s": round(elapsed, 1),
        "windows_measured": len(measured),
        "windows_expected": round(sources * elapsed / WINDOW_S),
        "windows_total": len(lines),
        "windows_in_summaries": sum(d["window_count"] for d in docs),
        "dropped_windows_metrics": dropped,
        "dropped_windows_summaries": sum(d["dropped_windows"] for d in docs),
        "gap_seconds_total": round(sum(d["gap_seconds"] for d in docs), 2),
        "summaries": len(docs),
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "latency_max_ms": round(max(latencies), 1),
        "analysis_p99_ms": round(percentile(analysis, 0.99), 1),
        "delivery_p99_ms": round(percentile(delivery, 0.99), 1),
        "rss_peak_mb": round(peak_rss, 1),
        "rss_end_mb": round(end_rss, 1),
        "cpu_s_per_source_hour": round(cpu / source_hours, 1),
        "cpu_share_of_one_core": round(cpu / elapsed, 3),
        "sources_per_core": int(3600 / (cpu / source_hours)),
        "sigterm_exit_code": code,
        "sigterm_exit_s": round(stop_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=64)
    parser.add_argument("--mounts", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120.0, help="measured period, after the warm-up")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--mono", action="store_true", help="analyse downmixed mono (config `channels: 1`)")
    args = parser.parse_args()
    result = asyncio.run(bench(args.sources, args.mounts, args.seconds, args.warmup, 1 if args.mono else None))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
