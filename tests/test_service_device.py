"""A sound card under supervision: a PulseAudio null sink's monitor, unloaded and loaded again.

Runs ``aimd run -c`` in a child with the private PulseAudio server's environment
(PortAudio reads it once, at initialisation) and follows its JSON log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from test_sources_device import ROOT, SINK, pulse  # noqa: F401  (the private PulseAudio server fixture)

RATE = 48_000


def pactl(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["pactl", *args], env=env, capture_output=True, text=True, check=True).stdout.strip()


class LogFollower:
    """Collects a child's JSON log lines as they come."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        self.records: list[dict] = []
        threading.Thread(target=self._read, args=(child,), daemon=True).start()

    def _read(self, child: subprocess.Popen[str]) -> None:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith("{"):
                self.records.append(json.loads(line))

    def states(self) -> list[str]:
        return [r["state"] for r in self.records if r.get("source") == "card" and "state" in r]

    def wait_for(self, state: str, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.states().count(state) < count:
            assert time.monotonic() < deadline, f"no {state} #{count} within {timeout} s: {self.records[-5:]}"
            time.sleep(0.05)


def test_card_that_disappears_and_comes_back_is_reconnected(pulse: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    song = tmp_path / "tone.raw"
    song.write_bytes((0.3 * np.sin(2 * np.pi * 440 * np.arange(RATE * 60) / RATE)).astype("<f4").tobytes())
    config = tmp_path / "aimd.yaml"
    config.write_text(yaml.safe_dump({
        "defaults": {"window": {"length_s": 1.0}, "supervision": {
            "watchdog_s": 3.0, "backoff_base_s": 0.2, "backoff_cap_s": 0.5, "stable_s": 1, "start_jitter_s": 0,
            "circuit_failures": 100}},
        "logging": {"format": "json", "level": "info"},
        "sources": [{"id": "card", "type": "device", "device": "pulse"}],
    }))  # fmt: skip
    player = None
    child = subprocess.Popen(
        [sys.executable, "-m", "streamer", "run", "-c", str(config)],
        cwd=ROOT, env=pulse, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    log = LogFollower(child)
    try:
        player = subprocess.Popen(
            ["pacat", "--playback", f"--device={SINK}", f"--rate={RATE}", "--channels=1", "--format=float32le", str(song)],
            env=pulse,
        )  # fmt: skip
        log.wait_for("running", 1, timeout=20)
        module = next(line.split()[0] for line in pactl(pulse, "list", "short", "modules").splitlines() if SINK in line)
        pactl(pulse, "unload-module", module)  # the card is gone
        log.wait_for("reconnecting", 1, timeout=10)
        pactl(pulse, "load-module", "module-null-sink", f"sink_name={SINK}", f"rate={RATE}", "channels=2")
        player.kill()
        player.wait()
        player = subprocess.Popen(
            ["pacat", "--playback", f"--device={SINK}", f"--rate={RATE}", "--channels=1", "--format=float32le", str(song)],
            env=pulse,
        )  # fmt: skip
        log.wait_for("running", 2, timeout=20)
    finally:
        if player is not None:
            player.kill()
            player.wait()
        child.terminate()
        child.wait(10)
    assert child.returncode == 0
    assert log.states()[:3] == ["running", "reconnecting", "running"]
