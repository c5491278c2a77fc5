"""Place a vendor's judgement on one of our windows, sans I/O.

Vendors count time from the start of *their* connection or upload; our
windows carry stream time (gaps and reconnects included). A vendor verdict is
moved onto the window it judged, and the fields no vendor measures — the
input level here — are filled from the window's samples.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...types import Decision, Window, WindowVerdict

_FLOOR_DBFS = -120.0


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of a window in dBFS (-120 for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return round(max(_FLOOR_DBFS, 20 * math.log10(rms)) if rms > 0 else _FLOOR_DBFS, 2)


def place(verdict: WindowVerdict, window: Window, *, evidence: tuple[str, ...] = (), clip_level: bool = False) -> WindowVerdict:
    return dataclasses.replace(
        verdict,
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        level_dbfs=level_dbfs(window.samples),
        evidence=verdict.evidence + evidence,
        captured_at=window.captured_at,
        gap_before_s=window.gap_before_s,
        clip_level=clip_level,
    )


def clip_verdict_for(window: Window, ai_score: float, decision: Decision, evidence: tuple[str, ...]) -> WindowVerdict:
    """A clip engine's verdict spread onto one window it covers.

    File vendors judge music as a whole, without lanes: music goes on the
    instrumental lane, as Modulate routes windows without sufficient vocals.
    """
    music = decision in (Decision.AI, Decision.HUMAN)
    verdict = WindowVerdict(
        start_ms=0, end_ms=0,
        vocal_percentage=0.0, vocal_ai_percentage=0.0, vocal_ai_confidence=0.0,
        instrumental_percentage=100.0 if music else 0.0,
        instrumental_ai_percentage=100.0 if decision is Decision.AI else 0.0,
        instrumental_ai_confidence=round(ai_score, 4),
        silence_percentage=0.0, speech_percentage=0.0 if music else 100.0, level_dbfs=0.0,
        ai_score=round(ai_score, 4), decision=decision,
        running_ai_score=0.0, rolling_ai_score=0.0,
    )  # fmt: skip
    return place(verdict, window, evidence=evidence, clip_level=True)
