"""The local engine: decoder-artefact fingerprint + envelope jitter + content routing, in-process, numpy only."""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from pathlib import Path

import numpy as np

from ...config import DecisionSettings
from ...types import ClipVerdict, Decision, Window, WindowVerdict
from ..base import StreamInfo
from .content import CONTENT_PATH, ContentModel, default_content_model
from .envelope_jitter import JITTER_PATH
from .model import DEFAULT_PATH
from .routing import Content, measure_content
from .scoring import EvidenceScorer, Score
from .spectrum import SpectrumSum, downmix, frame_db_sum

#: A window is silence / speech when that content fills at least half of it.
MAJORITY_PCT = 50.0

#: All sessions' CPU work runs here, one thread per core: more threads add no CPU, only GIL
#: hand-offs, and each thread keeps ~9 MB of reused STFT buffers (buffers.py) — with asyncio's
#: default pool of 6 threads, 64 live sources measured 405 MB RSS instead of ≤ 400.
_T = TypeVar("_T")
_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="aimd-engine")


async def _in_pool(work: Callable[..., _T], *args: object) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_POOL, work, *args)


class MusicEvidence:
    """What the music windows of a stretch of audio contributed: their summed dB spectra and jitter floors."""

    def __init__(self, windows: Iterable[tuple[np.ndarray, int, float | None]] = ()) -> None:
        self.spectra = SpectrumSum()
        self._floor_total = 0.0
        self._floor_windows = 0
        for window in windows:
            self.add(*window)

    def add(self, db_sum: np.ndarray, frames: int, floor: float | None) -> None:
        self.spectra.add(db_sum, frames)
        if floor is not None:
            self._floor_total += floor
            self._floor_windows += 1

    def score(self, scorer: EvidenceScorer) -> Score | None:
        spectra = self.spectra
        if spectra.total is None or spectra.frames == 0:
            return None
        mean_floor = self._floor_total / self._floor_windows if self._floor_windows else None
        return scorer.score(spectra.total / spectra.frames, spectra.frames, mean_floor)


class LocalSession:
    def __init__(self, scorer: EvidenceScorer, decision: DecisionSettings, content: ContentModel | None = None) -> None:
        self._scorer = scorer
        self._content = content or default_content_model()
        self._decision = decision
        self._running = MusicEvidence()  # every music window of the stream
        self._recent: deque[tuple[np.ndarray, int, float | None]] = deque(maxlen=decision.rolling_windows)
        self._lock = asyncio.Lock()  # state is updated in a worker thread: one window at a time

    async def analyze(self, window: Window) -> WindowVerdict:
        async with self._lock:
            return await _in_pool(self._analyze, window)

    async def finish(self) -> ClipVerdict:
        async with self._lock:
            score = await _in_pool(self._running.score, self._scorer)
        if score is None:
            return ClipVerdict(ai_score=0.0, is_ai=False, evidence=("no music heard",))
        return ClipVerdict(
            ai_score=score.ai_score,
            is_ai=score.ai_score >= self._decision.clip_ai_threshold,
            evidence=score.evidence,
        )

    def mean_spectrum(self) -> np.ndarray | None:
        """The mean dB spectrum of every music window so far — exactly what the clip verdict judged
        (reports draw it). Call after :meth:`finish`, or between windows."""
        return self._running.spectra.mean()

    async def aclose(self) -> None:
        self._recent.clear()

    def _analyze(self, window: Window) -> WindowVerdict:
        mono = downmix(window.samples)
        content = measure_content(mono, self._decision.silence_dbfs, self._content)
        db_sum, frames = frame_db_sum(mono)
        decision = self._content_decision(content)
        window_score = self._scorer.score(db_sum / frames, frames, content.jitter_floor) if frames else None
        is_music = decision is None and window_score is not None
        if is_music:
            # Speech and silence stay out of the evidence: the comb fires on speech, and speech
            # flickers nearer the jitter threshold than music does.
            self._running.add(db_sum, frames, content.jitter_floor)
            self._recent.append((db_sum, frames, content.jitter_floor))
        running = self._running.score(self._scorer)
        rolling = MusicEvidence(self._recent).score(self._scorer)

        ai_score = window_score.ai_score if is_music else 0.0
        if decision is None:
            decision = Decision.AI if ai_score >= self._decision.window_ai_threshold else Decision.HUMAN
        return self._verdict(window, content, decision, ai_score, running, rolling, window_score if is_music else None)

    def _content_decision(self, content: Content) -> Decision | None:
        if content.silence_pct >= MAJORITY_PCT or content.level_dbfs < self._decision.silence_dbfs:
            return Decision.SILENCE
        if content.speech_pct >= MAJORITY_PCT:
            return Decision.SPEECH
        return None

    def _verdict(
        self,
        window: Window,
        content: Content,
        decision: Decision,
        ai_score: float,
        running: Score | None,
        rolling: Score | None,
        window_score: Score | None,
    ) -> WindowVerdict:
        is_ai_pct = 100.0 if decision is Decision.AI else 0.0
        vocal_lane = content.vocal_pct >= self._decision.vocal_window_pct
        if window_score is None:
            evidence: tuple[str, ...] = (f"{decision.value}: no music to judge",)
        else:
            evidence = window_score.evidence
        return WindowVerdict(
            start_ms=window.start_ms,
            end_ms=window.end_ms,
            vocal_percentage=round(content.vocal_pct, 2),
            vocal_ai_percentage=is_ai_pct if vocal_lane else 0.0,
            vocal_ai_confidence=round(ai_score, 4) if vocal_lane else 0.0,
            instrumental_percentage=round(content.instrumental_pct, 2),
            instrumental_ai_percentage=0.0 if vocal_lane else is_ai_pct,
            instrumental_ai_confidence=0.0 if vocal_lane else round(ai_score, 4),
            silence_percentage=round(content.silence_pct, 2),
            speech_percentage=round(content.speech_pct, 2),
            level_dbfs=round(content.level_dbfs, 2),
            ai_score=round(ai_score, 4),
            decision=decision,
            running_ai_score=round(running.ai_score, 4) if running else 0.0,
            rolling_ai_score=round(rolling.ai_score, 4) if rolling else 0.0,
            evidence=evidence,
            captured_at=window.captured_at,
            analysed_at=time.time(),
            gap_before_s=window.gap_before_s,
        )


class LocalEngine:
    """In-process engine; one shared scorer (read-only after construction) for all sessions."""

    name = "local"

    def __init__(
        self,
        decision: DecisionSettings = DecisionSettings(),
        model_path: Path = DEFAULT_PATH,
        content_path: Path = CONTENT_PATH,
        jitter_path: Path = JITTER_PATH,
    ) -> None:
        self._decision = decision
        # Both raise ModelError on a missing or bad model file (the scorer loads two).
        self._scorer = EvidenceScorer(model_path, jitter_path=jitter_path)
        self._content = ContentModel.load(content_path)
        fingerprint, jitter = self._scorer.model.version, self._scorer.jitter.version
        self.model_version = f"{fingerprint}+{self._content.version}+{jitter}"

    def open_session(self, info: StreamInfo) -> LocalSession:
        return LocalSession(self._scorer, self._decision, self._content)

    async def aclose(self) -> None:
        return None
