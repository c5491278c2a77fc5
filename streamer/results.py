"""aimd's JSON forms of window verdicts and summaries.

They are Modulate's shapes (vendor-protocols.md §1.2, §1.4) with aimd's own
fields added after them — fields are only ever added, never renamed, so a
Modulate client can read our output unchanged.
"""

from __future__ import annotations

from typing import Any

from .types import StreamSummary, WindowVerdict

#: Modulate's per-window fields, in Modulate's order.
MODULATE_WINDOW_FIELDS = (
    "vocal_percentage",
    "vocal_ai_percentage",
    "vocal_ai_confidence",
    "instrumental_percentage",
    "instrumental_ai_percentage",
    "instrumental_ai_confidence",
    "silence_percentage",
)

#: Modulate's clip fields shared by the batch response and the streaming ``done`` message.
MODULATE_CLIP_FIELDS = ("primary_verdict", *MODULATE_WINDOW_FIELDS)


def window_dict(v: WindowVerdict) -> dict[str, Any]:
    out: dict[str, Any] = {"start_time_ms": v.start_ms, "end_time_ms": v.end_ms}
    for name in MODULATE_WINDOW_FIELDS:
        out[name] = round(getattr(v, name), 4)
    out.update(
        speech_percentage=round(v.speech_percentage, 2),
        level_dbfs=round(v.level_dbfs, 1),
        ai_score=round(v.ai_score, 4),
        is_ai=v.decision == "ai",
        decision=v.decision.value,
        running_ai_score=round(v.running_ai_score, 4),
        rolling_ai_score=round(v.rolling_ai_score, 4),
        evidence=list(v.evidence),
        latency_ms=round(v.latency_ms, 1),
    )
    if v.gap_before_s:
        out["gap_before_s"] = round(v.gap_before_s, 3)
    if v.clip_level:
        out["clip_level"] = True
    return out


def _clip_fields(s: StreamSummary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in MODULATE_CLIP_FIELDS:
        value = getattr(s, name)
        out[name] = value.value if name == "primary_verdict" else value
    return out


def _aimd_fields(s: StreamSummary) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ai_score": s.ai_score,
        "is_ai": s.is_ai,
        "status": s.status.value,
        "message": s.message,
        "speech_percentage": s.speech_percentage,
        "engine": s.engine,
        "model_version": s.model_version,
        "evidence": list(s.evidence),
        "gap_seconds": s.gap_seconds,
        "dropped_windows": s.dropped_windows,
    }
    if s.predicted_model:
        out["predicted_model"] = s.predicted_model
        out["predicted_model_score"] = s.predicted_model_score
    return out


def batch_dict(s: StreamSummary, *, filename: str, latency_ms: float) -> dict[str, Any]:
    """Modulate's batch response (``AIMusicDetectionResponse``) plus aimd's fields."""
    return {
        "filename": filename,
        "duration_s": s.duration_s,
        **_clip_fields(s),
        "windows": [window_dict(v) for v in s.windows],
        "latency_ms": round(latency_ms, 1),
        **_aimd_fields(s),
    }


def done_dict(s: StreamSummary) -> dict[str, Any]:
    """Modulate's streaming ``done`` message plus aimd's fields."""
    return {
        "type": "done",
        "duration_ms": round(s.duration_s * 1000),
        "window_count": s.window_count,
        **_clip_fields(s),
        **_aimd_fields(s),
    }
