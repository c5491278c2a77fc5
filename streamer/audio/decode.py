"""Decode anything ffmpeg opens (file path, http(s), Icecast, HLS, RTSP) with PyAV.

Blocking by nature: callers run :func:`decode_blocks` in a worker thread
(see :mod:`streamer.audio.bridge`). Failures become :class:`SourceError` with
the Pex status the input earns.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import av
import av.container
import numpy as np

from ..types import PcmBlock, Status
from .resample import Resampler
from .source import SourceError

#: Schemes read over the network (everything else is a local path).
NETWORK_SCHEMES = ("http://", "https://", "rtsp://", "rtmp://", "rtp://", "udp://", "tcp://", "srt://")
#: How long a network peer may stay silent (connect, then each read) before we give up.
NETWORK_TIMEOUT_S = 10.0

#: Decoder sample formats (packed or planar) → numpy dtype and the scale to ±1.0.
_SAMPLE_TYPES: dict[str, tuple[type[np.generic], float]] = {
    "u8": (np.uint8, 1 / 128), "s16": (np.int16, 1 / 2**15), "s32": (np.int32, 1 / 2**31),
    "s64": (np.int64, 1 / 2**63), "flt": (np.float32, 1.0), "dbl": (np.float64, 1.0),
}  # fmt: skip


def is_network(target: str) -> bool:
    return target.lower().startswith(NETWORK_SCHEMES)


@dataclass(slots=True)
class DecodeStats:
    """What one decode pass saw; filled while it runs."""

    #: Packets the codec rejected (corrupt or truncated data), skipped.
    bad_packets: int = 0
    #: Input frames (at the native rate) that decoded.
    decoded_frames: int = 0
    #: Whether the input declares a finite length (a file, VOD) rather than a live stream.
    finite: bool = True


def open_media(target: str, *, timeout_s: float = NETWORK_TIMEOUT_S) -> av.container.InputContainer:
    """Open ``target`` and check it has audio, mapping every failure to a Pex status."""
    options: dict[str, str] = {}
    if is_network(target):
        # We retry ourselves (UrlSource), so ffmpeg must fail fast instead of reconnecting.
        # The timeout is ffmpeg's own rw_timeout, not PyAV's ``timeout=``: PyAV implements that
        # with an interrupt callback that takes the GIL on every ffmpeg I/O wait, which with
        # 64 live sources was measured as 12 % more CPU and a busier GIL for the engine.
        options = {"rw_timeout": str(int(timeout_s * 1e6)), "reconnect": "0"}
    try:
        container = av.open(target, options=options)
    except (FileNotFoundError, av.error.HTTPNotFoundError) as exc:
        raise SourceError(Status.NOT_FOUND, f"{target}: not found") from exc
    except (av.error.InvalidDataError, av.error.PatchWelcomeError, av.error.DecoderNotFoundError) as exc:
        raise SourceError(Status.INVALID_FILE, f"{target}: not a media file ffmpeg can read") from exc
    except (OSError, av.error.FFmpegError) as exc:  # refused, unreachable, timed out, HTTP errors
        raise SourceError(Status.NOT_FOUND, f"{target}: cannot open ({getattr(exc, 'strerror', None) or exc})") from exc
    if not container.streams.audio:
        container.close()
        raise SourceError(Status.NO_AUDIO, f"{target}: has no audio stream")
    return container


@dataclass(frozen=True, slots=True)
class _Layout:
    """What must stay constant within one chunk of decoded audio."""

    rate: int
    sample_format: str  # packed name, e.g. "s16" for both s16 and s16p
    planar: bool
    channels: int


def _layout(frame: av.AudioFrame) -> _Layout:
    # Called for every decoded frame (~40 per second of MP3): the cached lookup by plain
    # values avoids building PyAV format and channel objects each time.
    return _layout_of(frame.sample_rate, frame.format.name, frame.layout.nb_channels)


@functools.cache
def _layout_of(rate: int, sample_format: str, channels: int) -> _Layout:
    audio_format = av.AudioFormat(sample_format)
    return _Layout(rate, audio_format.packed.name, audio_format.is_planar, channels)


def _views(frame: av.AudioFrame, layout: _Layout) -> list[np.ndarray]:
    """Zero-copy views of a frame's samples: one per channel if planar, else one interleaved."""
    dtype = _SAMPLE_TYPES[layout.sample_format][0]
    count = frame.samples if layout.planar else frame.samples * layout.channels
    return [np.frombuffer(plane, dtype, count) for plane in frame.planes]  # type: ignore[call-overload]  # planes export the buffer protocol


class _Chunk:
    """Decoded frames of one layout, waiting to be joined into one array."""

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        self.views: list[list[np.ndarray]] = []
        self.frames = 0

    def add(self, frame: av.AudioFrame) -> None:
        self.views.append(_views(frame, self.layout))
        self.frames += frame.samples

    def take(self) -> tuple[np.ndarray, int]:
        return to_float(self.views, self.layout), self.layout.rate


def to_float(views: list[list[np.ndarray]], layout: _Layout) -> np.ndarray:
    """Join the views of consecutive frames into float32 ``(samples, channels)``."""
    dtype, scale = _SAMPLE_TYPES[layout.sample_format]
    if layout.planar:
        joined = np.stack([np.concatenate([frame[ch] for frame in views]) for ch in range(layout.channels)], axis=1)
    else:
        joined = np.concatenate([frame[0] for frame in views]).reshape(-1, layout.channels)
    if dtype is np.uint8:
        return (joined.astype(np.float32) - 128) * np.float32(scale)
    if scale == 1.0:
        return joined.astype(np.float32, copy=False)
    return joined.astype(np.float32) * np.float32(scale)


def decode_pcm(
    container: av.container.InputContainer, stats: DecodeStats, chunk_s: float
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(samples, rate)`` chunks of about ``chunk_s`` seconds from the first audio stream.

    Packets the codec rejects are counted and skipped, so a damaged file still
    yields whatever audio it holds. Demuxer (read) errors propagate.
    """
    stream = container.streams.audio[0]
    stats.finite = container.duration is not None
    chunk: _Chunk | None = None
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            stats.bad_packets += 1
            continue
        for frame in frames:
            layout = _layout(frame)
            if chunk is not None and chunk.layout != layout:  # rate or format changed: hand over the old audio
                yield chunk.take()
                chunk = None
            chunk = chunk or _Chunk(layout)
            chunk.add(frame)
            stats.decoded_frames += frame.samples
            if chunk.frames >= chunk_s * layout.rate:
                yield chunk.take()
                chunk = None
    if chunk is not None:
        yield chunk.take()


def decode_blocks(
    container: av.container.InputContainer, resampler: Resampler, stats: DecodeStats, *, chunk_s: float = 0.5
) -> Iterator[PcmBlock]:
    """Decode and resample an open container into canonical blocks.

    Read errors propagate; the resampler is left open (callers flush it when
    the input is over, so a reconnecting stream can first account its gap).
    """
    for samples, rate in decode_pcm(container, stats, chunk_s):
        if block := resampler.process(samples, rate):
            yield block


def decode_file(
    target: str, resampler: Resampler, stats: DecodeStats, *, chunk_s: float = 0.5
) -> Generator[PcmBlock, None, None]:
    """Decode a whole input (file or finite URL) to its end.

    A file that fails part-way (truncated, corrupt) ends early with the audio
    decoded so far; one that yields no audio at all is ``invalid_file``.
    """
    container = open_media(target)
    try:
        yield from decode_blocks(container, resampler, stats, chunk_s=chunk_s)
    except (OSError, av.error.FFmpegError) as exc:
        stats.bad_packets += 1
        if stats.decoded_frames == 0:
            raise SourceError(Status.INVALID_FILE, f"{target}: unreadable ({exc})") from exc
    finally:
        container.close()
    if stats.decoded_frames == 0 and stats.bad_packets:
        raise SourceError(Status.INVALID_FILE, f"{target}: no packet could be decoded")
    if tail := resampler.flush():
        yield tail
