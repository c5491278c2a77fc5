"""DeviceSource on a real sound card: a PulseAudio null sink, captured from its monitor.

A private PulseAudio daemon runs for this module. A tone is played into the
null sink with ``pacat``; a child process captures the sink's monitor through
PortAudio's ALSA ``pulse`` device (libasound2-plugins) with DeviceSource. The
capture runs in a child so PortAudio initialises with the test server's
environment, whatever other tests imported before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SINK = "aimdtest"
TONE_HZ = 1000

pytestmark = pytest.mark.skipif(
    not all(map(shutil.which, ("pulseaudio", "pacat", "pactl"))),
    reason="needs the pulseaudio and pulseaudio-utils binaries",
)

CHILD = """
import asyncio, json, sys
import numpy as np
from streamer.audio.sources import DeviceSource, list_devices
from streamer.types import Gap, SAMPLE_RATE

async def capture(seconds):
    source, frames, chunks = DeviceSource("pulse"), 0, []
    async for event in source.events():
        assert event.start_frame == frames, "stream time must be contiguous"
        frames += event.frames
        chunks.append(event.samples[:, 0])
        if frames >= seconds * SAMPLE_RATE:
            break
    audio = np.concatenate(chunks)[-SAMPLE_RATE:]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(audio)), float(np.abs(audio).max())

async def overflow():
    source = DeviceSource("pulse", buffer_s=0.2)
    events = source.events()
    first = await anext(events)
    await asyncio.sleep(1.0)  # a consumer that stalls: capture must not wait for it
    frame, gaps = first.end_frame, []
    async for event in events:
        assert event.start_frame == frame
        frame = event.end_frame if not isinstance(event, Gap) else event.start_frame + event.frames
        if isinstance(event, Gap):
            gaps.append(event.reason)
            break
    await events.aclose()
    return gaps, source.dropped_frames, source.gap_seconds

async def main():
    names = [d.name for d in list_devices()]
    peak_hz, level = await capture(2.0)
    gaps, dropped, gap_seconds = await overflow()
    report = dict(names=names, peak_hz=peak_hz, level=level, gaps=gaps, dropped=dropped, gap_seconds=gap_seconds)
    print(json.dumps(report))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    runtime = tmp_path_factory.mktemp("pulse")
    env = {**os.environ, "HOME": str(runtime), "XDG_RUNTIME_DIR": str(runtime), "PULSE_RUNTIME_PATH": str(runtime)}
    # --system=false with a private runtime dir works as root too (it only warns).
    daemon = subprocess.Popen(
        [
            "pulseaudio", "--daemon=no", "--exit-idle-time=-1", "-n", "--disallow-exit", "--system=false",
            "--disable-shm=true", "--use-pid-file=false",
            "-L", f"module-native-protocol-unix socket={runtime}/native auth-anonymous=1",
            "-L", f"module-null-sink sink_name={SINK} rate=48000 channels=2",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    env |= {"PULSE_SERVER": f"unix:{runtime}/native", "PULSE_SOURCE": f"{SINK}.monitor", "PULSE_SINK": SINK}
    deadline = time.monotonic() + 10
    while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            pytest.fail(f"pulseaudio did not start: {daemon.stderr.read().decode(errors='replace')[-500:]}")
        time.sleep(0.1)
    yield env
    daemon.terminate()
    daemon.wait(timeout=10)


def test_captures_a_tone_from_a_null_sink_and_drops_when_stalled(pulse: dict[str, str], tmp_path: Path) -> None:
    tone = tmp_path / "tone.raw"
    tone.write_bytes((0.5 * np.sin(2 * np.pi * TONE_HZ * np.arange(48000 * 8) / 48000)).astype("<f4").tobytes())
    player = subprocess.Popen(
        ["pacat", "--playback", f"--device={SINK}", "--rate=48000", "--channels=1", "--format=float32le", str(tone)],
        env=pulse,
    )  # fmt: skip
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD], cwd=ROOT, env=pulse, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = child.communicate(timeout=60)
    finally:
        player.kill()
        player.wait()
    assert child.returncode == 0, err.decode(errors="replace")[-2000:]
    report = json.loads(out)
    assert "pulse" in report["names"]
    assert report["peak_hz"] == pytest.approx(TONE_HZ, abs=3)
    assert report["level"] == pytest.approx(0.5, abs=0.05)
    assert report["gaps"] == ["overflow"]
    assert report["dropped"] > 0.5 * 44100  # ~1 s stalled with 0.2 s of buffer
    assert report["gap_seconds"] == pytest.approx(report["dropped"] / 44100)


def test_aimd_lists_the_card_and_analyses_it_live(pulse: dict[str, str], tmp_path: Path) -> None:
    """As a user would: `aimd devices`, then `aimd run --source device:pulse` until Ctrl-C."""
    listing = subprocess.run([sys.executable, "-m", "streamer", "devices"], cwd=ROOT, env=pulse, capture_output=True)
    assert listing.returncode == 0 and "pulse" in listing.stdout.decode()

    from streamer.synth import music

    song = tmp_path / "song.raw"
    song.write_bytes(music(12.0, rate=48000, seed=2).astype("<f4").tobytes())
    player = subprocess.Popen(
        ["pacat", "--playback", f"--device={SINK}", "--rate=48000", "--channels=2", "--format=float32le", str(song)],
        env=pulse,
    )  # fmt: skip
    run = subprocess.Popen(
        [sys.executable, "-m", "streamer", "run", "--source", "device:pulse"],
        cwd=ROOT, env=pulse, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        first = json.loads(run.stdout.readline())
        run.send_signal(subprocess.signal.SIGINT)
        out, err = run.communicate(timeout=20)
    finally:
        player.kill()
        player.wait()
        run.kill()
    assert run.returncode == 0, err.decode(errors="replace")[-2000:]
    assert first["type"] == "window" and first["window"]["end_time_ms"] == 4000
    assert first["window"]["decision"] in ("human", "ai") and first["window"]["level_dbfs"] > -30
    done = json.loads(out.decode().splitlines()[-1])
    assert done["type"] == "done" and done["window_count"] >= 1
