"""Streaming conversion of any decoded audio to canonical blocks.

Every source funnels its audio through one :class:`Resampler`, which owns the
stream clock: it downmixes to the source's fixed channel count, resamples to
:data:`SAMPLE_RATE` with soxr, and stamps each block with the exact stream frame
it starts at. Gaps advance the same clock, so stream time never drifts.
"""

from __future__ import annotations

import time

import numpy as np
import soxr

from ..types import SAMPLE_RATE, Gap, PcmBlock

#: soxr quality. 'HQ' (20-bit, 95 % passband) is transparent for analysis; 'VHQ'
#: costs ~30 % more and 'MQ' saves nothing measurable (scripts/bench_decode.py).
QUALITY = "HQ"


def downmix(samples: np.ndarray, channels: int) -> np.ndarray:
    """Fold ``(frames, n)`` audio to ``channels`` (1 or 2).

    Wider layouts average their even-indexed channels into left and odd ones
    into right (FL/FR pairs stay on their side); mono is duplicated if the
    source started in stereo, so its channel count stays fixed.
    """
    have = samples.shape[1]
    if have == channels:
        return samples
    if channels == 1:
        return samples.mean(axis=1, keepdims=True, dtype=np.float32)
    if have == 1:
        return np.repeat(samples, 2, axis=1)
    return np.stack([samples[:, 0::2].mean(axis=1), samples[:, 1::2].mean(axis=1)], axis=1).astype(np.float32)


def _finite(samples: np.ndarray) -> np.ndarray:
    """NaN and infinite samples (corrupt float PCM) as silence: one would poison soxr's filter and every
    spectrum accumulated after it, so a single bad sample would end the stream's verdicts."""
    if np.isfinite(samples.sum(dtype=np.float64)):  # one pass; NaN and ±inf survive a sum
        return samples
    return np.where(np.isfinite(samples), samples, np.float32(0.0))


class Resampler:
    """Turn ``(frames, channels)`` float32 audio at any rate into :class:`PcmBlock` s.

    The output channel count is fixed by the first audio seen (1 stays 1,
    anything wider becomes 2). An input-rate change flushes the old resampler
    and opens a new one; the frame counter runs on, so stream time is continuous.
    """

    def __init__(self, quality: str = QUALITY) -> None:
        self.quality = quality
        #: Stream frame the next block or gap starts at.
        self.next_frame = 0
        self.channels: int | None = None
        self._rate: int | None = None
        self._stream: soxr.ResampleStream | None = None

    def process(self, samples: np.ndarray, rate: int) -> PcmBlock | None:
        """Convert one chunk; returns ``None`` when the resampler is still buffering."""
        if self.channels is None:
            self.channels = min(samples.shape[1], 2)
        samples = downmix(samples, self.channels)
        parts: list[np.ndarray] = []
        if rate != self._rate:
            if self._stream is not None:
                parts.append(self._drain())
            self._rate = rate
            self._stream = (
                None
                if rate == SAMPLE_RATE
                else soxr.ResampleStream(rate, SAMPLE_RATE, self.channels, dtype="float32", quality=self.quality)
            )
        samples = _finite(np.ascontiguousarray(samples, dtype=np.float32))  # no copy when it already is
        parts.append(samples if self._stream is None else self._stream.resample_chunk(samples))
        return self._block(parts)

    def flush(self) -> PcmBlock | None:
        """End of input: emit what the resampler still holds (its filter delay)."""
        if self._stream is None:
            return None
        tail = self._drain()
        self._stream, self._rate = None, None
        return self._block([tail])

    def _drain(self) -> np.ndarray:
        """Signal the end of input to soxr and take the samples still inside its filter."""
        assert self._stream is not None and self.channels is not None
        return self._stream.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)

    def gap(self, frames: int, reason: str) -> Gap:
        """Account ``frames`` of lost audio: the next block starts after them."""
        event = Gap(self.next_frame, frames, reason)
        self.next_frame += frames
        return event

    def _block(self, parts: list[np.ndarray]) -> PcmBlock | None:
        samples = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if samples.shape[0] == 0:
            return None
        block = PcmBlock(self.next_frame, samples, time.time())
        self.next_frame += samples.shape[0]
        return block
