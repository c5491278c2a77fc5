"""Clip engines: vendors that judge whole files (Modulate batch, Pex, Mippia, Undetectable).

Windows are gathered into clips of ``clip_s`` seconds; a full clip is encoded
and judged in the background while the next one fills, so a slow vendor never
holds up capture. When a clip's result arrives it is spread onto the windows
the clip covers (``clip_level=True``), per vendor segment where the vendor
gives segments. The session is a :class:`~streamer.engines.base.DeferredSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ...audio.encode import encode_bytes
from ...config import AnalysisSettings
from ...types import SAMPLE_RATE, ClipVerdict, Decision, EngineStats, Status, Window, WindowVerdict
from ..base import EngineError, StreamInfo
from .results import ClipRejected, ClipResult
from .scores import ScoreTracker
from .settings import RemoteEngineSettings
from .stats import RequestStats
from .vendors import ClipJudge
from .windows import clip_verdict_for

log = logging.getLogger(__name__)
#: Clips judged at once per stream; beyond this, capture waits for the oldest (its windows queue meanwhile).
MAX_CLIPS_IN_FLIGHT = 2
#: Worst-case bytes per second of audio, to check a clip fits the vendor's size cap before any upload.
BYTES_PER_SECOND = {"flac": SAMPLE_RATE * 2 * 2, "mp3": 192_000 // 8}


@dataclass
class Clip:
    """Windows and the audio they cover, overlaps counted once."""

    windows: list[Window] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # clip frame where each window starts
    parts: list[np.ndarray] = field(default_factory=list)
    frames: int = 0
    end_frame: int = 0  # stream frame after the last sample taken

    @property
    def seconds(self) -> float:
        return self.frames / SAMPLE_RATE

    def add(self, window: Window) -> None:
        # Overlapping windows share audio: take only what is new. Audio on both
        # sides of a gap is joined: vendors judge a clip as a whole.
        overlap = max(0, self.end_frame - window.start_frame) if self.windows else 0
        self.windows.append(window)
        self.offsets.append(self.frames - overlap)
        self.parts.append(window.samples[overlap:])
        self.frames += window.frames - overlap
        self.end_frame = window.end_frame

    def samples(self) -> np.ndarray:
        return np.concatenate(self.parts)


class ClipSession:
    def __init__(self, judge: ClipJudge, analysis: AnalysisSettings, remote: RemoteEngineSettings, source_id: str) -> None:
        self._judge = judge
        self._analysis = analysis
        self._remote = remote
        self._source_id = source_id
        self._clip = Clip()
        self._pending: deque[tuple[Clip, asyncio.Task[ClipResult | ClipRejected]]] = deque()
        self._tracker = ScoreTracker(analysis.decision.rolling_windows)
        self._last: ClipResult | None = None
        self._judged_s = self._ai_s = self._score_s = 0.0
        self._clips = self._ai_clips = 0
        self._stats = RequestStats(judge.name)

    @property
    def stats(self) -> EngineStats:
        return self._stats.snapshot()

    async def submit(self, window: Window) -> list[WindowVerdict]:
        self._clip.add(window)
        if self._clip.seconds >= self._remote.clip_s:
            self._start(self._clip)
            self._clip = Clip()
        return await self._collect(wait_for=max(0, len(self._pending) - MAX_CLIPS_IN_FLIGHT))

    async def flush(self) -> list[WindowVerdict]:
        tail, self._clip = self._clip, Clip()
        # A tail shorter than the vendor accepts takes the verdict of the clip before it.
        carry = bool(tail.windows) and tail.seconds < self._judge.min_clip_s and bool(self._pending or self._last)
        if tail.windows and not carry:
            self._start(tail)
        verdicts = await self._collect(wait_for=len(self._pending))
        if carry and self._last is not None:
            verdicts += self._spread(tail, self._last, (f"{self._judge.name}: verdict of the clip before (tail too short)",))
        elif carry:  # the clip before was not judged either: let the vendor say what it makes of the tail
            self._start(tail)
            verdicts += await self._collect(wait_for=1)
        return verdicts

    def _start(self, clip: Clip) -> None:
        self._pending.append((clip, asyncio.create_task(self._judged(clip), name=f"{self._judge.name}:{self._source_id}")))

    async def _judged(self, clip: Clip) -> ClipResult | ClipRejected:
        fmt = self._remote.clip_format
        audio = await asyncio.to_thread(encode_bytes, clip.samples(), SAMPLE_RATE, fmt)
        if self._judge.max_bytes is not None and len(audio) > self._judge.max_bytes:
            raise EngineError(f"{self._judge.name}: a {clip.seconds:.0f} s clip is {len(audio)} bytes, over the vendor's limit")
        try:
            result: ClipResult | ClipRejected = await self._judge.judge(audio, f"{self._source_id_safe()}.{fmt}", clip.seconds, self._stats)
        except ClipRejected as rejected:
            result = rejected
        self._stats.audio_sent(clip.seconds)
        return result

    def _source_id_safe(self) -> str:
        """A file name vendors accept (Undetectable: no spaces)."""
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in self._source_id)[:64] or "clip"

    async def _collect(self, wait_for: int) -> list[WindowVerdict]:
        """Verdicts of the finished clips at the head of the queue, waiting for the first ``wait_for``."""
        verdicts: list[WindowVerdict] = []
        while self._pending and (wait_for > 0 or self._pending[0][1].done()):
            clip, task = self._pending.popleft()
            wait_for -= 1
            verdicts += self._apply(clip, await task)
        return verdicts

    def _apply(self, clip: Clip, result: ClipResult | ClipRejected) -> list[WindowVerdict]:
        if isinstance(result, ClipRejected):
            if result.status is not Status.NOT_ENOUGH_MUSIC:
                raise EngineError(f"{self._judge.name}: {result.status.value}: {result}")
            evidence = (f"{self._judge.name}: not_enough_music: {result}",)
            return [self._tracker.add(clip_verdict_for(w, 0.0, Decision.SPEECH, evidence)) for w in clip.windows]
        self._last = result
        self._clips += 1
        self._ai_clips += result.is_ai
        self._judged_s += clip.seconds
        self._score_s += result.ai_score * clip.seconds
        self._ai_s += clip.seconds if result.is_ai else 0.0
        return self._spread(clip, result, result.evidence)

    def _spread(self, clip: Clip, result: ClipResult, evidence: tuple[str, ...]) -> list[WindowVerdict]:
        threshold = self._analysis.decision.window_ai_threshold
        segments = result.segment_scores
        verdicts = []
        for window, offset in zip(clip.windows, clip.offsets):
            score, decision = result.ai_score, Decision.AI if result.is_ai else Decision.HUMAN
            if segments:  # the segment holding the window's middle
                middle = (offset + window.frames / 2) / max(clip.frames, 1)
                score = segments[min(len(segments) - 1, int(middle * len(segments)))]
                decision = Decision.AI if score >= threshold else Decision.HUMAN
            verdicts.append(self._tracker.add(clip_verdict_for(window, score, decision, evidence)))
        return verdicts

    async def finish(self) -> ClipVerdict:
        if not self._clips:
            return ClipVerdict(0.0, False, (f"{self._judge.name}: no clip judged",))
        last = self._last
        return ClipVerdict(
            ai_score=self._score_s / self._judged_s,
            is_ai=2 * self._ai_s >= self._judged_s,  # most of the judged audio
            evidence=(f"{self._judge.name}: {self._ai_clips} of {self._clips} clips AI",),
            predicted_model=last.predicted_model if last else None,
            predicted_model_score=last.predicted_model_score if last else None,
        )

    async def aclose(self) -> None:
        for _, task in self._pending:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._pending.clear()


class ClipEngine:
    def __init__(self, analysis: AnalysisSettings, remote: RemoteEngineSettings, judge: ClipJudge) -> None:
        if remote.clip_s < judge.min_clip_s:
            raise ValueError(f"{judge.name} judges clips of at least {judge.min_clip_s:g} s; raise --clip")
        if judge.max_bytes is not None and remote.clip_s * BYTES_PER_SECOND[remote.clip_format] > judge.max_bytes:
            raise ValueError(f"{remote.clip_s:g} s of {remote.clip_format} may exceed {judge.name}'s "
                             f"{judge.max_bytes // 2**20} MB limit; use shorter clips or mp3")  # fmt: skip
        self.name = judge.name
        self.model_version = judge.model_version
        self._analysis = analysis
        self._remote = remote
        self._judge = judge

    def open_session(self, info: StreamInfo) -> ClipSession:
        return ClipSession(self._judge, self._analysis, self._remote, info.source_id)

    async def aclose(self) -> None:
        await self._judge.aclose()
