"""``aimd run -c`` end to end: a real Icecast station, a paced file, Mosquitto; SIGHUP and SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import audio_fixtures as fx
import yaml
from icecast import Icecast
from services import Mosquitto, MqttCollector

AIMD = [sys.executable, "-m", "streamer"]
PREFIX = "aimd/svc/source"


def config(broker: Mosquitto, sources: list[dict]) -> str:
    return yaml.safe_dump(
        {
            "defaults": {
                "window": {"length_s": 1.0},
                "supervision": {"backoff_base_s": 0.2, "backoff_cap_s": 0.5, "watchdog_s": 3, "stable_s": 1, "start_jitter_s": 0},
            },
            "mqtt": {"url": broker.url, "instance": "svc"},
            "logging": {"format": "json", "level": "info"},
            "sources": sources,
        }
    )


def statuses(inbox: MqttCollector, source: str) -> list[str]:
    return [m.payload.decode() for m in inbox.on(f"{PREFIX}/{source}/status")]


def windows(inbox: MqttCollector, source: str) -> list[dict]:
    return [json.loads(m.payload) for m in inbox.on(f"{PREFIX}/{source}/window")]


async def test_run_reload_and_clean_shutdown(tmp_path: Path) -> None:
    song = fx.encode(tmp_path / "song.mp3", fx.music(6.0), 44100, "mp3")
    with Mosquitto(tmp_path) as broker, Icecast(tmp_path) as icecast:
        station = await asyncio.to_thread(icecast.feed, "radio.mp3", song)
        radio = {"id": "radio", "type": "url", "url": station.url}
        paced = {"id": "tape", "type": "file", "path": str(song), "realtime": True}
        path = tmp_path / "aimd.yaml"
        path.write_text(config(broker, [radio]))
        async with MqttCollector(broker.port, "aimd/svc/#") as inbox:
            child = subprocess.Popen([*AIMD, "run", "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                await inbox.wait_for(lambda _: len(windows(inbox, "radio")) >= 2, timeout=30)
                assert statuses(inbox, "radio")[-1] == "online"

                path.write_text("sources: [{id: radio, type: url}]\n")  # broken: rejected, nothing stops
                child.send_signal(signal.SIGHUP)
                await asyncio.sleep(1.0)
                path.write_text(config(broker, [radio, paced]))  # add a source; radio must not restart
                child.send_signal(signal.SIGHUP)
                await inbox.wait_for(lambda _: len(windows(inbox, "tape")) >= 2, timeout=20)

                child.send_signal(signal.SIGTERM)
                asked = time.monotonic()
                code = await asyncio.to_thread(child.wait, 10)
                assert code == 0 and time.monotonic() - asked <= 5.0
                await inbox.wait_for(lambda _: statuses(inbox, "tape")[-1:] == ["offline"], timeout=5)
            finally:
                if child.poll() is None:
                    child.kill()
                stderr = child.communicate()[1].decode()
    # starting, running, stopped (the sink republishes retained state when it connects: repeats are fine)
    assert [s for i, s in enumerate(statuses(inbox, "radio")) if statuses(inbox, "radio")[i - 1 : i] != [s]] == [
        "reconnecting", "online", "offline",
    ]  # fmt: skip
    summary = json.loads(inbox.on(f"{PREFIX}/radio/summary")[-1].payload)
    assert summary["window_count"] == len(windows(inbox, "radio")) and summary["gap_seconds"] == 0
    assert [w["seq"] for w in windows(inbox, "radio")] == list(range(len(windows(inbox, "radio"))))
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert len(records) == len(stderr.splitlines()), stderr  # every log line is JSON
    rejected = [r["message"] for r in records if r["message"].startswith("reload rejected")]
    assert len(rejected) == 1 and rejected[0].endswith("aimd.yaml:1: sources[radio]: a url source needs 'url'")
    running = [r for r in records if r.get("source") == "radio" and r.get("state") == "running"]
    assert len(running) == 1  # logged once, and never restarted by the reload
