"""Resampler, file decoding and FileSource on real encoded files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

import audio_fixtures as fx
from streamer.audio.bridge import LiveBuffer
from streamer.audio.resample import Resampler
from streamer.audio.source import SourceError
from streamer.audio.sources import FileSource, open_source
from streamer.types import SAMPLE_RATE, Gap, PcmBlock, SourceEvent, Status


async def collect(source) -> list[SourceEvent]:
    return [event async for event in source.events()]


def assert_contiguous(events: list[SourceEvent]) -> int:
    """Stream time runs without holes or overlaps; returns the total frames."""
    frame = 0
    for event in events:
        assert event.start_frame == frame
        frame += event.frames
    return frame


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples[:, 0] * np.hanning(samples.shape[0])))
    return float(np.argmax(spectrum) * SAMPLE_RATE / samples.shape[0])


# ---------------------------------------------------------------- resampler


def test_canonical_rate_passes_through_without_copying() -> None:
    audio = fx.tone(0.1, 440, channels=2)
    block = Resampler().process(audio, SAMPLE_RATE)
    assert block is not None and np.shares_memory(block.samples, audio)


@pytest.mark.parametrize("rate", [SAMPLE_RATE, 48_000])
def test_corrupt_float_samples_become_silence_and_the_rest_passes(rate: int) -> None:
    audio = fx.tone(0.5, 440, channels=2, rate=rate)
    audio[100, 0], audio[2000, 1], audio[3000, 0] = np.nan, np.inf, -np.inf
    resampler = Resampler()
    blocks = [resampler.process(audio[i : i + 1024], rate) for i in range(0, len(audio), 1024)] + [resampler.flush()]
    samples = np.concatenate([b.samples for b in blocks if b is not None])
    assert np.isfinite(samples).all()
    if rate == SAMPLE_RATE:  # untouched apart from the three bad samples
        expected = audio.copy()
        expected[100, 0] = expected[2000, 1] = expected[3000, 0] = 0.0
        np.testing.assert_array_equal(samples, expected)


def test_rate_change_mid_stream_keeps_stream_time() -> None:
    resampler = Resampler()
    blocks = [resampler.process(fx.tone(0.5, 1000, rate=rate), rate) for rate in (48000, 48000, 22050, 44100)]
    blocks.append(resampler.flush())
    events = [b for b in blocks if b is not None]
    total = assert_contiguous(events)
    assert abs(total - 2 * SAMPLE_RATE) <= 2  # four half-seconds, whatever their rates
    audio = np.concatenate([e.samples for e in events])
    assert peak_hz(audio[: SAMPLE_RATE // 2]) == pytest.approx(1000, abs=5)


def test_downmix_keeps_mono_and_folds_surround_to_stereo() -> None:
    mono = Resampler().process(fx.tone(0.1, 440, channels=1), SAMPLE_RATE)
    assert mono is not None and mono.samples.shape[1] == 1
    surround = np.tile(np.arange(6, dtype=np.float32), (100, 1))
    stereo = Resampler().process(surround, SAMPLE_RATE)
    assert stereo is not None
    np.testing.assert_allclose(stereo.samples[0], [(0 + 2 + 4) / 3, (1 + 3 + 5) / 3])


def test_channel_count_is_fixed_by_the_first_audio() -> None:
    resampler = Resampler()
    resampler.process(fx.tone(0.1, 440, channels=2), SAMPLE_RATE)
    later = resampler.process(fx.tone(0.1, 440, channels=1), SAMPLE_RATE)
    assert later is not None and later.samples.shape[1] == 2


def test_gap_advances_the_clock() -> None:
    resampler = Resampler()
    first = resampler.process(fx.tone(0.1, 440), SAMPLE_RATE)
    gap = resampler.gap(1000, "test")
    second = resampler.process(fx.tone(0.1, 440), SAMPLE_RATE)
    assert assert_contiguous([first, gap, second]) == 2 * 4410 + 1000


# ---------------------------------------------------------------- files

# Lossy codecs pad to whole codec frames; allow one codec frame (at 44.1 kHz) of slack.
CODEC_FRAME = {"wav": 2, "flac": 2, "mp3": 1152, "ogg": 2048, "opus": 960, "m4a": 1024}


@pytest.mark.parametrize(
    ("fmt", "rate", "channels"),
    [
        ("wav", 44100, 2), ("wav", 48000, 1), ("wav", 22050, 2), ("flac", 96000, 2), ("mp3", 44100, 2),
        ("mp3", 48000, 1), ("ogg", 44100, 2), ("opus", 48000, 2), ("m4a", 44100, 2), ("m4a", 32000, 1),
    ],
)  # fmt: skip
async def test_every_format_decodes_to_the_right_length(tmp_path: Path, fmt: str, rate: int, channels: int) -> None:
    seconds = 2.0
    path = fx.encode(tmp_path / f"clip.{fmt}", fx.music(seconds, rate=rate, channels=channels), rate, fmt)
    events = await collect(FileSource(path))
    total = assert_contiguous(events)
    assert abs(total - seconds * SAMPLE_RATE) <= CODEC_FRAME[fmt]
    assert all(isinstance(e, PcmBlock) and e.samples.dtype == np.float32 for e in events)
    assert {e.samples.shape[1] for e in events} == {channels}


async def test_resampled_tone_keeps_its_pitch_and_level(tmp_path: Path) -> None:
    path = fx.encode(tmp_path / "tone.wav", fx.tone(1.0, 1000, rate=48000), 48000, "wav")
    audio = np.concatenate([e.samples for e in await collect(FileSource(path))])
    assert peak_hz(audio) == pytest.approx(1000, abs=2)
    assert np.abs(audio[1000:-1000]).max() == pytest.approx(0.5, abs=0.01)


async def test_short_clip_decodes_exactly(tmp_path: Path) -> None:
    path = fx.encode(tmp_path / "short.wav", fx.music(0.5), 44100, "wav")
    assert assert_contiguous(await collect(FileSource(path))) == SAMPLE_RATE // 2


async def test_truncated_mp3_yields_what_decodes(tmp_path: Path) -> None:
    source = FileSource(fx.truncated_mp3(tmp_path / "cut.mp3", seconds=3.0))
    total = assert_contiguous(await collect(source))
    assert 1.5 * SAMPLE_RATE < total < 2.2 * SAMPLE_RATE  # cut at 60 % of 3 s


async def test_ten_minutes_of_silence(tmp_path: Path) -> None:
    events = await collect(FileSource(fx.long_silence(tmp_path / "silence.flac")))
    assert assert_contiguous(events) == 600 * SAMPLE_RATE
    assert max(float(np.abs(e.samples).max()) for e in events) == 0.0


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda d: fx.random_bytes(d / "noise.mp3"), Status.INVALID_FILE),
        (lambda d: fx.empty_file(d / "empty.wav"), Status.INVALID_FILE),
        (lambda d: fx.video_without_audio(d / "video.mp4"), Status.NO_AUDIO),
    ],
)
async def test_bad_inputs_get_pex_statuses(tmp_path: Path, make, status: Status) -> None:
    with pytest.raises(SourceError) as caught:
        await collect(FileSource(make(tmp_path)))
    assert caught.value.status is status


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file") as caught:
        open_source(str(tmp_path / "nope.mp3"))
    assert caught.value.status is Status.NOT_FOUND


async def test_realtime_paces_at_stream_time(tmp_path: Path) -> None:
    source = FileSource(fx.encode(tmp_path / "paced.wav", fx.music(0.6), 44100, "wav"), realtime=True)
    assert source.live
    started = time.monotonic()
    events = await collect(source)
    assert time.monotonic() - started >= 0.55
    assert assert_contiguous(events) == round(0.6 * SAMPLE_RATE)


async def test_stopping_early_stops_the_decoder(tmp_path: Path) -> None:
    source = FileSource(fx.encode(tmp_path / "long.wav", fx.music(30), 44100, "wav"))
    events = source.events()
    first = await anext(events)
    await events.aclose()
    assert first.start_frame == 0


# ---------------------------------------------------------------- live buffer


async def test_live_buffer_drops_oldest_and_reports_the_hole() -> None:
    buffer = LiveBuffer(max_frames=1000)
    blocks = [PcmBlock(i * 400, np.zeros((400, 1), np.float32), 0.0) for i in range(5)]
    for block in blocks:
        buffer.push(block)
    buffer.end()
    events = [e async for e in buffer.drain()]
    assert buffer.dropped_frames == 1200  # three oldest blocks went to keep ≤ 1000 frames
    assert events == [Gap(0, 1200, "overflow"), blocks[3], blocks[4]]


async def test_live_buffer_raises_the_producers_error_after_its_audio() -> None:
    buffer = LiveBuffer(max_frames=10_000)
    block = PcmBlock(0, np.zeros((10, 1), np.float32), 0.0)
    asyncio.get_running_loop().call_soon(buffer.push, block)
    asyncio.get_running_loop().call_soon(buffer.end, SourceError(Status.ERROR, "boom"))
    seen = []
    with pytest.raises(SourceError, match="boom"):
        async for event in buffer.drain():
            seen.append(event)
    assert seen == [block]
