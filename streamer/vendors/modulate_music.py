"""Modulate Velma-2 *music detection* (music / speech, 192 ms frames), sans I/O (vendor-protocols.md §1.8).

The frame cutter is pure: canonical audio in, one :class:`Frame` per 192 ms of
stream time out. What a frame *is* comes from an injected classifier (the
server passes the local engine's content routing), which sees the last second
of audio ending at the frame, because speech is recognised by its syllabic
pauses and 192 ms holds none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..types import SAMPLE_RATE, PcmBlock
from .modulate import CloseCode, StreamParams
from .modulate_stream import Action, Close, DecodingSession, PcmDecoder, Send

FRAME_MS = 192
#: Audio a frame is judged on, ending at the frame's end.
CONTEXT_FRAMES = SAMPLE_RATE
#: A frame counts as music / speech in the percentages from this probability.
LABEL_THRESHOLD = 0.5

#: Context audio (mono float32) → (music probability, speech probability), independent, 0–1.
Classifier = Callable[[np.ndarray], tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    music_prob: float
    speech_prob: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_time_ms": self.index * FRAME_MS,
            "end_time_ms": (self.index + 1) * FRAME_MS,
            "music_prob": round(self.music_prob, 4),
            "speech_prob": round(self.speech_prob, 4),
        }


def _frame_end(index: int) -> int:
    """Stream frame where 192 ms frame ``index`` ends (192 ms is not a whole number of samples)."""
    return round((index + 1) * FRAME_MS * SAMPLE_RATE / 1000)


class FrameCutter:
    """Canonical blocks in, classified 192 ms frames out; keeps one second of audio, however long the stream."""

    def __init__(self, classify: Classifier) -> None:
        self._classify = classify
        self._audio = np.zeros(0, np.float32)  # mono, stream frames [_start, _start + len)
        self._start = 0
        self._next = 0

    def feed(self, block: PcmBlock) -> list[Frame]:
        mono = block.samples.mean(axis=1, dtype=np.float32) if block.samples.shape[1] > 1 else block.samples[:, 0]
        self._audio = np.concatenate([self._audio, mono])
        frames: list[Frame] = []
        while (end := _frame_end(self._next)) <= self._start + len(self._audio):
            context = self._audio[max(0, end - CONTEXT_FRAMES - self._start) : end - self._start]
            frames.append(Frame(self._next, *self._classify(context)))
            self._next += 1
        keep_from = max(0, _frame_end(self._next) - CONTEXT_FRAMES - self._start)
        self._audio = self._audio[keep_from:]
        self._start += keep_from
        return frames


class Tally:
    """Counts for the percentages and the primary label; O(1) memory."""

    def __init__(self) -> None:
        self.frames = self.music = self.speech = 0

    def add(self, frame: Frame) -> None:
        self.frames += 1
        self.music += frame.music_prob >= LABEL_THRESHOLD
        self.speech += frame.speech_prob >= LABEL_THRESHOLD

    def _pct(self, count: int) -> float:
        return round(100.0 * count / self.frames, 1) if self.frames else 0.0

    def primary_label(self) -> str:
        if not self.frames:
            return "unknown"
        if self.music and self.music >= self.speech:
            return "music"
        return "speech" if self.speech else "neither"

    def fields(self) -> dict[str, Any]:
        return {"music_pct": self._pct(self.music), "speech_pct": self._pct(self.speech), "primary_label": self.primary_label()}


def frame_message(frame: Frame) -> dict[str, Any]:
    return {"type": "frame", "frame": frame.as_dict()}


def done_message(tally: Tally, duration_ms: int) -> dict[str, Any]:
    return {"type": "done", "duration_ms": duration_ms, "frame_count": tally.frames, **tally.fields()}


def batch_response(frames: list[Frame], *, filename: str, duration_s: float, latency_ms: float) -> dict[str, Any]:
    tally = Tally()
    for frame in frames:
        tally.add(frame)
    fields = tally.fields()
    return {
        "filename": filename,
        "duration_s": round(duration_s, 2),
        "primary_label": fields["primary_label"],
        "music_pct": fields["music_pct"],
        "speech_pct": fields["speech_pct"],
        "latency_ms": round(latency_ms, 1),
        "frames": [f.as_dict() for f in frames],
    }


class MusicSpeechSession(DecodingSession):
    """The streaming sibling: a ``frame`` message per 192 ms, ``done`` after ``""``. No engine round trip."""

    def __init__(self, decoder_factory: Callable[[StreamParams], PcmDecoder], classify: Classifier) -> None:
        super().__init__(decoder_factory)
        self._cutter = FrameCutter(classify)
        self._tally = Tally()

    def _on_audio(self, block: PcmBlock) -> list[Action]:
        actions: list[Action] = []
        for frame in self._cutter.feed(block):
            self._tally.add(frame)
            actions.append(Send(frame_message(frame)))
        return actions

    def _on_end(self) -> list[Action]:
        duration_ms = (self.frames_received * 1000) // SAMPLE_RATE
        self._close()
        return [Send(done_message(self._tally, duration_ms)), Close(CloseCode.NORMAL)]
