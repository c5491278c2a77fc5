"""StdinSource: raw PCM through a real pipe, in-process and as a child process's stdin."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import audio_fixtures as fx
from streamer.audio.source import SourceError
from streamer.audio.sources import StdinSource, open_source
from streamer.types import SAMPLE_RATE, Status

ROOT = Path(__file__).resolve().parents[1]

# The child reads its real stdin through StdinSource and reports what it got.
CHILD = """
import asyncio, json
import numpy as np
from streamer.audio.sources import StdinSource

async def main():
    frames, starts_ok, peak = 0, True, 0.0
    chunks = []
    async for block in StdinSource("s16le", 16000, 1).events():
        starts_ok &= block.start_frame == frames
        frames += block.frames
        chunks.append(block.samples[:, 0])
    audio = np.concatenate(chunks)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    peak_hz = float(np.argmax(spectrum) * 44100 / len(audio))
    print(json.dumps({"frames": frames, "contiguous": starts_ok, "peak_hz": peak_hz}))

asyncio.run(main())
"""


def test_child_process_reads_pcm_from_its_stdin() -> None:
    pcm = (fx.tone(1.0, 1000, rate=16000)[:, 0] * 32767).astype("<i2").tobytes()
    child = subprocess.run(
        [sys.executable, "-c", CHILD], input=pcm, capture_output=True, cwd=ROOT, timeout=60, check=True
    )
    report = json.loads(child.stdout)
    assert report["contiguous"]
    assert abs(report["frames"] - SAMPLE_RATE) <= 2
    assert report["peak_hz"] == pytest.approx(1000, abs=3)


async def test_pipe_written_in_odd_chunks_decodes_every_frame() -> None:
    audio = fx.music(0.5, rate=48000)
    pcm = np.ascontiguousarray(audio, dtype=">f4").tobytes()
    read_fd, write_fd = os.pipe()

    def writer() -> None:  # 7001-byte writes split samples and frames everywhere
        with os.fdopen(write_fd, "wb", buffering=0) as pipe:
            for i in range(0, len(pcm), 7001):
                pipe.write(pcm[i : i + 7001])

    threading.Thread(target=writer, daemon=True).start()
    with os.fdopen(read_fd, "rb") as stream:
        blocks = [b async for b in StdinSource("f32be", 48000, 2, stream=stream).events()]
    assert sum(b.frames for b in blocks) == pytest.approx(0.5 * SAMPLE_RATE, abs=2)
    assert blocks[0].start_frame == 0 and all(a.end_frame == b.start_frame for a, b in itertools.pairwise(blocks))


def test_bad_raw_declaration_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="invalid sample rate 12345") as caught:
        StdinSource("s16le", 12345, 1)
    assert caught.value.status is Status.INVALID_FILE


def test_stdin_spec_needs_the_raw_parameters() -> None:
    with pytest.raises(SourceError, match="format, rate and channels"):
        open_source("-")
    assert isinstance(open_source("-", raw_format="s16le", rate=16000, channels=1), StdinSource)
