"""Cut a stream into analysis windows on stream time.

Pure and synchronous: source events in, windows out. Because windows are cut
on sample counts, any chunking of the same audio yields byte-identical windows
(tests/test_windowing.py proves it with hypothesis).
"""

from __future__ import annotations

import numpy as np

from .types import SAMPLE_RATE, Gap, PcmBlock, SourceEvent, Window


class Windower:
    """Turns :class:`PcmBlock` / :class:`Gap` events into :class:`Window` objects.

    ``length_s`` and ``hop_s`` are in seconds of stream time; ``hop_s`` may be
    shorter (overlap) or longer (skip) than the window. Audio is never glued
    across a gap: a partial window in progress when a gap arrives is discarded
    (and counted), and the next window starts with the first sample after it.
    """

    def __init__(self, length_s: float = 4.0, hop_s: float | None = None) -> None:
        self.length = round(length_s * SAMPLE_RATE)
        self.hop = round((hop_s if hop_s is not None else length_s) * SAMPLE_RATE)
        if self.length <= 0 or self.hop <= 0:
            raise ValueError("window length and hop must be positive")
        self._buf: np.ndarray | None = None  # (length, channels)
        self._filled = 0  # frames of _buf holding audio
        self._buf_start = 0  # stream frame of _buf[0]
        self._skip = 0  # frames still to skip when hop > length
        self._next_frame = 0  # stream frame we expect next
        self._next_index = 0
        self._gap_pending = 0  # frames of gap since the last window
        #: Frames received (excluding gaps).
        self.frames_received = 0
        #: Frames lost to gaps (reconnects, discontinuities).
        self.frames_lost = 0
        #: Frames that were received but discarded because a gap cut their window short.
        self.frames_discarded = 0

    @property
    def pending_frames(self) -> int:
        """Received audio not yet part of any emitted window (the trailing partial)."""
        return self._filled

    def feed(self, event: SourceEvent) -> list[Window]:
        if isinstance(event, Gap):
            self._gap(event.frames)
            self._next_frame = event.start_frame + event.frames
            return []
        return self._block(event)

    def _gap(self, frames: int) -> None:
        if frames <= 0:
            return
        self.frames_lost += frames
        self.frames_discarded += self._filled
        self._filled = 0
        self._skip = 0
        self._gap_pending += frames

    def _block(self, block: PcmBlock) -> list[Window]:
        samples = block.samples
        start = block.start_frame
        if start > self._next_frame:
            self._gap(start - self._next_frame)
        elif start < self._next_frame:  # overlap with what we already have: drop it
            samples = samples[self._next_frame - start :]
            start = self._next_frame
        self._next_frame = start + samples.shape[0]
        self.frames_received += samples.shape[0]
        samples = self._match_channels(samples)

        windows: list[Window] = []
        pos = 0
        total = samples.shape[0]
        while pos < total:
            if self._skip:
                step = min(self._skip, total - pos)
                self._skip -= step
                pos += step
                continue
            if self._filled == 0:
                self._buf_start = start + pos
            take = min(self.length - self._filled, total - pos)
            self._buf[self._filled : self._filled + take] = samples[pos : pos + take]
            self._filled += take
            pos += take
            if self._filled == self.length:
                windows.append(self._emit(block.captured_at))
        return windows

    def _match_channels(self, samples: np.ndarray) -> np.ndarray:
        channels = samples.shape[1]
        if self._buf is None:
            self._buf = np.zeros((self.length, channels), dtype=np.float32)
        want = self._buf.shape[1]
        if channels == want:
            return samples
        # A stream that switches layout mid-way keeps the layout it started with.
        if want == 1:
            return samples.mean(axis=1, keepdims=True, dtype=np.float32)
        return np.repeat(samples[:, :1], want, axis=1)

    def _emit(self, captured_at: float) -> Window:
        window = Window(
            index=self._next_index,
            start_frame=self._buf_start,
            samples=self._buf.copy(),
            captured_at=captured_at,
            gap_before_s=self._gap_pending / SAMPLE_RATE,
        )
        self._next_index += 1
        self._gap_pending = 0
        if self.hop >= self.length:
            self._filled = 0
            self._skip = self.hop - self.length
        else:  # overlap: keep the tail that starts the next window
            keep = self.length - self.hop
            self._buf[:keep] = self._buf[self.hop :]
            self._filled = keep
            self._buf_start += self.hop
        return window
