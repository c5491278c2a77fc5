"""The few types that cross module boundaries: source → windower → engine → sinks.

Everything downstream of a source works on *stream time*: a frame index at the
canonical analysis rate, counted from the first sample the source produced.
Wall-clock time is carried along only to measure latency, never to cut audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

#: The one analysis rate. Every source resamples to it once, at its boundary,
#: because the decoder-artefact fingerprint sits at fixed frequencies: analysing
#: at another rate moves the comb (detection-science.md, "48 kHz analysed
#: without resampling": AUC 0.5).
SAMPLE_RATE = 44_100


class _FrameSpan:
    """Stream-time extent of anything that holds ``samples`` from ``start_frame`` on."""

    __slots__ = ()
    start_frame: int
    samples: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frames


@dataclass(frozen=True, slots=True)
class PcmBlock(_FrameSpan):
    """A run of contiguous audio at :data:`SAMPLE_RATE`.

    ``samples`` is float32, shape ``(frames, channels)`` with 1 or 2 channels
    (sources downmix anything wider to stereo). ``captured_at`` is the
    wall-clock time (``time.time()``) at which the block's last sample reached us.
    """

    start_frame: int
    samples: np.ndarray
    captured_at: float


@dataclass(frozen=True, slots=True)
class Gap:
    """Audio that is missing from the stream: a reconnect, a dropped buffer.

    Stream time keeps running across a gap: the next block starts at
    ``start_frame + frames``. The windower never glues audio across a gap.
    """

    start_frame: int
    frames: int
    reason: str

    @property
    def seconds(self) -> float:
        return self.frames / SAMPLE_RATE


#: What a source yields.
SourceEvent = PcmBlock | Gap


@dataclass(frozen=True, slots=True)
class Window(_FrameSpan):
    """A complete analysis window, cut on stream time."""

    index: int
    start_frame: int
    samples: np.ndarray  # float32 (frames, channels)
    captured_at: float  # wall clock of the window's last sample
    gap_before_s: float = 0.0  # audio lost just before this window

    @property
    def start_ms(self) -> int:
        return frames_to_ms(self.start_frame)

    @property
    def end_ms(self) -> int:
        return frames_to_ms(self.end_frame)


def frames_to_ms(frames: int) -> int:
    return (frames * 1000) // SAMPLE_RATE


class Decision(StrEnum):
    """What a window (or a source right now) is, for dashboards and automations."""

    AI = "ai"
    HUMAN = "human"
    SILENCE = "silence"
    SPEECH = "speech"


class PrimaryVerdict(StrEnum):
    """Modulate's clip verdict vocabulary."""

    AI_VOCAL = "ai-vocal-music"
    AI_INSTRUMENTAL = "ai-instrumental"
    NOT_AI = "not-ai-music"


class Status(StrEnum):
    """Outcome of an analysis, in Pex's status vocabulary."""

    OK = "ok"
    INVALID_FILE = "invalid_file"
    NO_AUDIO = "no_audio"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_ENOUGH_MUSIC = "not_enough_music"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class WindowVerdict:
    """An engine's judgement of one window.

    The Modulate fields keep Modulate's routing semantics (vendor-protocols.md
    §1.5): a window with sufficient vocals fills ``vocal_ai_*`` and leaves
    ``instrumental_ai_*`` at 0; any other window does the reverse.
    """

    start_ms: int
    end_ms: int
    vocal_percentage: float
    vocal_ai_percentage: float  # 100 or 0
    vocal_ai_confidence: float
    instrumental_percentage: float
    instrumental_ai_percentage: float  # 100 or 0
    instrumental_ai_confidence: float
    silence_percentage: float
    # ---- aimd's own additions
    speech_percentage: float
    level_dbfs: float
    ai_score: float  # 0–1, this window alone
    decision: Decision
    running_ai_score: float  # 0–1, all audio of the stream so far
    rolling_ai_score: float  # 0–1, the last few windows only (content changes)
    evidence: tuple[str, ...] = ()
    captured_at: float = 0.0  # wall clock of the window's last sample
    analysed_at: float = 0.0  # wall clock when the verdict was ready
    gap_before_s: float = 0.0
    clip_level: bool = False  # True when a clip engine's verdict was spread onto this window

    @property
    def latency_ms(self) -> float:
        return max(0.0, (self.analysed_at - self.captured_at) * 1000.0)


@dataclass(frozen=True, slots=True)
class ClipVerdict:
    """An engine's judgement of everything it has seen in a stream."""

    ai_score: float
    is_ai: bool
    evidence: tuple[str, ...] = ()
    predicted_model: str | None = None
    predicted_model_score: float | None = None


@dataclass(frozen=True, slots=True)
class EngineStats:
    """What one stream's engine session has asked of a remote engine so far.

    An immutable snapshot: the session makes a fresh one on request and the
    pipeline hands it to the sinks, so sinks never reach into an engine.
    """

    engine: str
    requests: tuple[tuple[str, int], ...] = ()  # (outcome, count), sorted by outcome
    audio_seconds_sent: float = 0.0  # what vendors bill
    latency_ms_last: float = 0.0
    latency_ms_mean: float = 0.0
    latency_ms_max: float = 0.0
    last_outcome: str = ""
    last_request_at: float = 0.0  # wall clock

    @property
    def quota_errors(self) -> int:
        return dict(self.requests).get("quota", 0)


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """End-of-stream result: Modulate's clip fields plus aimd's additions."""

    status: Status
    message: str
    duration_s: float
    window_count: int
    primary_verdict: PrimaryVerdict
    vocal_percentage: float
    vocal_ai_percentage: float
    vocal_ai_confidence: float
    instrumental_percentage: float
    instrumental_ai_percentage: float
    instrumental_ai_confidence: float
    silence_percentage: float
    speech_percentage: float
    ai_score: float
    is_ai: bool
    engine: str
    model_version: str
    evidence: tuple[str, ...] = ()
    gap_seconds: float = 0.0
    dropped_windows: int = 0
    predicted_model: str | None = None
    predicted_model_score: float | None = None
    windows: tuple[WindowVerdict, ...] = field(default=(), repr=False)
