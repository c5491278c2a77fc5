"""JSON payloads of the MQTT topics (pure). Their contract is protocols/mqtt/:
fields are only ever added; a breaking change bumps ``schema``."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..types import SAMPLE_RATE, EngineStats, StreamSummary, WindowVerdict
from .events import SegmentEvent

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """What ``<prefix>/<instance>/info`` describes besides the sources."""

    engine: str
    model_version: str
    window_s: float
    hop_s: float


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def info_payload(instance: str, info: InstanceInfo, sources: list[str]) -> bytes:
    return encode(
        {
            "schema": SCHEMA_VERSION,
            "instance": instance,
            "version": __version__,
            "engine": info.engine,
            "model_version": info.model_version,
            "window_s": info.window_s,
            "hop_s": info.hop_s,
            "sample_rate": SAMPLE_RATE,
            "sources": sources,
        }
    )


def window_payload(instance: str, source: str, seq: int, engine: str, v: WindowVerdict) -> bytes:
    return encode(
        {
            "schema": SCHEMA_VERSION,
            "instance": instance,
            "source": source,
            "seq": seq,
            "start_ms": v.start_ms,
            "end_ms": v.end_ms,
            "wall_time": rfc3339(v.captured_at),
            "captured_at": v.captured_at,
            "analysed_at": v.analysed_at,
            "latency_ms": round(v.latency_ms, 3),
            "vocal_percentage": v.vocal_percentage,
            "vocal_ai_percentage": v.vocal_ai_percentage,
            "vocal_ai_confidence": v.vocal_ai_confidence,
            "instrumental_percentage": v.instrumental_percentage,
            "instrumental_ai_percentage": v.instrumental_ai_percentage,
            "instrumental_ai_confidence": v.instrumental_ai_confidence,
            "silence_percentage": v.silence_percentage,
            "speech_percentage": v.speech_percentage,
            "ai_score": v.ai_score,
            "rolling_ai_score": v.rolling_ai_score,
            "running_ai_score": v.running_ai_score,
            "decision": v.decision.value,
            "level_dbfs": v.level_dbfs,
            "gap_before_s": v.gap_before_s,
            "clip_level": v.clip_level,
            "evidence": list(v.evidence),
            "engine": engine,
        }
    )


def event_payload(instance: str, source: str, e: SegmentEvent) -> bytes:
    return encode(
        {
            "schema": SCHEMA_VERSION,
            "instance": instance,
            "source": source,
            "type": e.type.value,
            "id": e.id,
            "start_ms": e.start_ms,
            "end_ms": e.end_ms,
            "start_time": rfc3339(e.started_at),
            "end_time": rfc3339(e.ended_at) if e.ended_at is not None else None,
            "windows": e.windows,
            "max_ai_score": e.max_ai_score,
            "mean_ai_score": e.mean_ai_score,
        }
    )


def engine_stats_fields(stats: EngineStats) -> dict[str, Any]:
    """A remote engine's request stats as users read them (the MQTT ``engine`` topic, the status page)."""
    requests = dict(stats.requests)
    return {
        "engine": stats.engine,
        "requests": requests,
        "requests_total": sum(requests.values()),
        "quota_errors": stats.quota_errors,
        "audio_seconds_sent": stats.audio_seconds_sent,
        "latency_ms": {"last": stats.latency_ms_last, "mean": stats.latency_ms_mean, "max": stats.latency_ms_max},
        "last_outcome": stats.last_outcome,
        "last_request_time": rfc3339(stats.last_request_at) if stats.last_request_at else None,
    }


def engine_payload(instance: str, source: str, stats: EngineStats) -> bytes:
    return encode({"schema": SCHEMA_VERSION, "instance": instance, "source": source, **engine_stats_fields(stats)})


def summary_payload(instance: str, source: str, s: StreamSummary) -> bytes:
    # Per-window verdicts already went out on the window topic. StrEnums and
    # tuples encode as JSON strings and arrays as they are.
    values = {f.name: getattr(s, f.name) for f in fields(s) if f.name != "windows"}
    return encode({"schema": SCHEMA_VERSION, "instance": instance, "source": source, **values})
