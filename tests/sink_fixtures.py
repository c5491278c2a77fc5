"""WindowVerdict / StreamSummary builders shared by the sink tests."""

from __future__ import annotations

import time

from streamer.types import Decision, PrimaryVerdict, Status, StreamSummary, WindowVerdict

WINDOW_MS = 4000


def verdict(index: int, decision: Decision = Decision.HUMAN, *, ai_score: float | None = None) -> WindowVerdict:
    score = ai_score if ai_score is not None else (0.9 if decision is Decision.AI else 0.1)
    ai = decision is Decision.AI
    now = time.time()
    return WindowVerdict(
        start_ms=index * WINDOW_MS,
        end_ms=(index + 1) * WINDOW_MS,
        vocal_percentage=0.0,
        vocal_ai_percentage=0.0,
        vocal_ai_confidence=0.0,
        instrumental_percentage=100.0 if decision in (Decision.AI, Decision.HUMAN) else 0.0,
        instrumental_ai_percentage=100.0 if ai else 0.0,
        instrumental_ai_confidence=score,
        silence_percentage=100.0 if decision is Decision.SILENCE else 0.0,
        speech_percentage=100.0 if decision is Decision.SPEECH else 0.0,
        level_dbfs=-18.5,
        ai_score=score,
        decision=decision,
        running_ai_score=score,
        rolling_ai_score=score,
        evidence=("decoder-comb",) if ai else (),
        captured_at=now - 0.05,
        analysed_at=now,
    )


def summary(windows: int) -> StreamSummary:
    return StreamSummary(
        status=Status.OK,
        message="ok",
        duration_s=windows * WINDOW_MS / 1000,
        window_count=windows,
        primary_verdict=PrimaryVerdict.AI_INSTRUMENTAL,
        vocal_percentage=0.0,
        vocal_ai_percentage=0.0,
        vocal_ai_confidence=0.0,
        instrumental_percentage=100.0,
        instrumental_ai_percentage=60.0,
        instrumental_ai_confidence=0.9,
        silence_percentage=0.0,
        speech_percentage=0.0,
        ai_score=0.7,
        is_ai=True,
        engine="local",
        model_version="test-1",
        evidence=("decoder-comb",),
    )
