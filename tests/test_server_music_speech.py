"""Modulate's music / speech sibling API (192 ms frames) against ``aimd serve``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import websockets
from audio_fixtures import encode, music, random_bytes
from server_app import running_server
from services import free_port

from streamer.server.settings import ServerSettings
from streamer.types import SAMPLE_RATE, PcmBlock
from streamer.vendors.modulate_music import FRAME_MS, FrameCutter

KEY = "music-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(ServerSettings(port=free_port(), api_keys=(KEY,), data_dir=tmp_path_factory.mktemp("d"))) as address:
        yield address


def spoken(path: Path) -> Path:
    """Real (synthetic) speech: espeak-ng reading a news item, as a WAV file."""
    text = ("Good evening, this is the late news. The council met today to discuss the new bridge over the river, "
            "and the weather will stay dry until the weekend.")  # fmt: skip
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path


def _batch(server: str, path: Path) -> dict:
    with path.open("rb") as f:
        resp = requests.post(f"http://{server}/api/velma-2-music-detection-batch", headers={"X-API-Key": KEY},
                             files={"upload_file": (path.name, f)}, timeout=30)  # fmt: skip
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="needs espeak-ng (scripts/setup --test installs it)")
def test_music_and_speech_get_their_labels(server, tmp_path):
    song = _batch(server, encode(tmp_path / "song.mp3", music(6.0, 44100, 2), 44100, "mp3"))
    talk = _batch(server, spoken(tmp_path / "talk.wav"))
    assert song["primary_label"] == "music" and song["music_pct"] > 80
    assert talk["primary_label"] == "speech" and talk["speech_pct"] > 50
    assert set(song) == {"filename", "duration_s", "primary_label", "music_pct", "speech_pct", "latency_ms", "frames"}
    assert len(song["frames"]) == int(song["duration_s"] * 1000 // FRAME_MS)
    assert song["frames"][1] == {**song["frames"][1], "start_time_ms": 192, "end_time_ms": 384}


def test_undecodable_upload_is_400(server, tmp_path):
    with random_bytes(tmp_path / "r.mp3").open("rb") as f:
        resp = requests.post(f"http://{server}/api/velma-2-music-detection-batch", headers={"X-API-Key": KEY},
                             files={"upload_file": ("r.mp3", f)}, timeout=30)  # fmt: skip
    assert resp.status_code == 400 and "could not be processed" in resp.json()["detail"]


async def _stream(server: str, query: str, data: bytes, chunk: int) -> tuple[list[dict], int]:
    url = f"ws://{server}/api/velma-2-music-detection-streaming?api_key={KEY}&{query}"
    async with websockets.connect(url, max_size=None) as ws:
        for i in range(0, len(data), chunk):
            await ws.send(data[i : i + chunk])
        await ws.send("")
        messages = [json.loads(m) async for m in ws]
        return messages, ws.close_code


@pytest.mark.parametrize("chunk", [333, 1 << 20])
async def test_stream_sends_a_frame_per_192_ms_then_done(server, chunk):
    pcm = (music(3.0, 16000, 1) * 32767).astype("<i2").tobytes()
    messages, code = await _stream(server, "audio_format=s16le&sample_rate=16000&num_channels=1", pcm, chunk)
    assert code == 1000
    frames, done = messages[:-1], messages[-1]
    assert [m["frame"]["start_time_ms"] for m in frames] == [i * FRAME_MS for i in range(3000 // FRAME_MS)]
    assert done["type"] == "done" and done["frame_count"] == len(frames) and done["primary_label"] == "music"
    assert done["duration_ms"] == pytest.approx(3000, abs=1)


async def test_stream_validation_is_the_ai_music_one(server):
    async with websockets.connect(f"ws://{server}/api/velma-2-music-detection-streaming?api_key={KEY}&audio_format=s16le") as ws:
        error = json.loads(await ws.recv())
        await ws.wait_closed()
    assert ws.close_code == 1003
    assert error == {"type": "error", "error": "Raw audio formats require sample_rate and num_channels query parameters"}


def test_frame_cutter_keeps_one_second_however_long_the_stream():
    cutter = FrameCutter(lambda context: (float(len(context)) / SAMPLE_RATE, 0.0))
    block = np.zeros((SAMPLE_RATE // 2, 1), np.float32)
    frames = []
    for i in range(120):  # one minute in 0.5 s blocks
        frames += cutter.feed(PcmBlock(i * block.shape[0], block, 0.0))
        assert cutter._audio.size <= 2 * SAMPLE_RATE
    assert len(frames) == 60_000 // FRAME_MS
    assert frames[0].music_prob == pytest.approx(0.192, abs=1e-4) and frames[-1].music_prob == pytest.approx(1.0)
