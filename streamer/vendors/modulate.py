"""Modulate Velma-2 AI-music wire format, sans I/O (vendor-protocols.md §1).

Query validation for the streaming endpoints (exact documented error strings),
builders from our verdicts/summaries to Modulate's JSON, and parsers of both the
documented (v1, routed) and the "dual-lane" (v2, ``*_ai_probability``) window
shapes back into :class:`WindowVerdict` for a remote-engine client.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ..audio.rawpcm import RAW_FORMATS, RAW_MAX_CHANNELS, RAW_SAMPLE_RATES
from ..results import (
    MODULATE_CLIP_FIELDS,
    MODULATE_WINDOW_FIELDS,
    batch_dict,
    done_dict,
    window_dict,
)
from ..types import Decision, StreamSummary, WindowVerdict

CONTAINER_FORMATS = ("wav", "mp3", "ogg", "flac", "webm", "aac", "aiff")
AUDIO_FORMATS = tuple(sorted(CONTAINER_FORMATS + RAW_FORMATS))
SAMPLE_RATES = RAW_SAMPLE_RATES
MAX_CHANNELS = RAW_MAX_CHANNELS
BATCH_EXTENSIONS = (".aac", ".flac", ".m4a", ".mp3", ".mp4", ".ogg", ".opus", ".wav")
WINDOW_MS = 4000


class CloseCode(IntEnum):
    NORMAL = 1000
    INVALID_PARAMS = 1003
    INTERNAL_ERROR = 1011
    BAD_API_KEY = 4001
    UNDECODABLE = 4002
    FORBIDDEN = 4003
    OVER_QUOTA = 4029
    GOING_AWAY = 1001  # ours: idle timeout (protocols/README.md)


class ErrorText:
    """Error strings exactly as Modulate sends them (AsyncAPI / OpenAPI examples)."""

    RAW_NEEDS_PARAMS = "Raw audio formats require sample_rate and num_channels query parameters"
    PARAMS_NEED_FORMAT = "sample_rate and num_channels require audio_format to be specified"
    FORMAT_REQUIRED = "audio_format query parameter is required. Example: audio_format=s16le&sample_rate=16000&num_channels=1"
    INTERNAL = "Internal server error"
    FORBIDDEN = "This request is not permitted."
    # The auth page: the 403 detail says which limit applies (vendor-protocols.md §1.2).
    NOT_ENABLED = "This request is not permitted. Model access is not enabled for this API key."
    MONTHLY_LIMIT = "This request is not permitted. Monthly usage limit reached."
    NO_CREDITS = "Insufficient credits."
    UNVALIDATED = "Unable to validate request. Please try again."
    MISMATCH = "Audio data does not match the declared audio_format."
    UNPROCESSABLE = "The audio could not be processed. It may be corrupted or in an unsupported format."
    EMPTY_FILE = "The uploaded file is empty."
    INVALID_REQUEST = "Invalid request."
    # Not in Modulate's examples (we chose them, protocols/README.md).
    INVALID_KEY = "Invalid API key."
    CONTAINER_CHANNELS = "num_channels must not be specified for container audio formats"
    BAD_TEXT_FRAME = 'Text frames other than "" (end of stream) are not supported'
    IDLE = "No audio received for too long"

    @staticmethod
    def invalid_format(value: str) -> str:
        return f"Invalid audio_format={value!r}. Valid values: {list(AUDIO_FORMATS)}"

    @staticmethod
    def invalid_rate(value: str) -> str:
        return f"Invalid sample_rate={value}. Valid values: {list(SAMPLE_RATES)}"

    @staticmethod
    def invalid_channels(value: str) -> str:
        return f"Invalid num_channels={value}. Must be between 1 and {MAX_CHANNELS}"


class QueryError(ValueError):
    """Streaming query parameters are invalid: send ``error`` then close 1003."""

    close_code = CloseCode.INVALID_PARAMS


@dataclass(frozen=True, slots=True)
class StreamParams:
    audio_format: str
    sample_rate: int | None = None  # raw formats only
    num_channels: int | None = None  # raw formats only

    @property
    def is_raw(self) -> bool:
        return self.audio_format in RAW_FORMATS


def parse_stream_query(query: Mapping[str, str]) -> StreamParams:
    """Validate ``audio_format`` / ``sample_rate`` / ``num_channels``. Raises :class:`QueryError`."""
    fmt = query.get("audio_format")
    rate_text = query.get("sample_rate")
    channels_text = query.get("num_channels")
    if not fmt:
        if rate_text is not None or channels_text is not None:
            raise QueryError(ErrorText.PARAMS_NEED_FORMAT)
        raise QueryError(ErrorText.FORMAT_REQUIRED)
    if fmt not in AUDIO_FORMATS:
        raise QueryError(ErrorText.invalid_format(fmt))
    if fmt in CONTAINER_FORMATS:
        # The AsyncAPI text says sample_rate is "ignored" for containers; a stray
        # num_channels is rejected as the streaming page demands.
        if channels_text is not None:
            raise QueryError(ErrorText.CONTAINER_CHANNELS)
        return StreamParams(fmt)
    if rate_text is None or channels_text is None:
        raise QueryError(ErrorText.RAW_NEEDS_PARAMS)
    rate = _int_or_none(rate_text)
    if rate not in SAMPLE_RATES:
        raise QueryError(ErrorText.invalid_rate(rate_text))
    channels = _int_or_none(channels_text)
    if channels is None or not 1 <= channels <= MAX_CHANNELS:
        raise QueryError(ErrorText.invalid_channels(channels_text))
    return StreamParams(fmt, rate, channels)


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# ---------------------------------------------------------------- builders
# aimd's JSON (streamer.results) is Modulate's shape plus aimd's fields; a
# Modulate-compatible answer is that JSON filtered to Modulate's keys.

#: Keys of Modulate's 9-field batch ``WindowPrediction``.
BATCH_WINDOW_KEYS = ("start_time_ms", "end_time_ms", *MODULATE_WINDOW_FIELDS)
#: The 7-field streaming window: instrumental AI is clip-level only in streaming.
STREAM_WINDOW_KEYS = tuple(k for k in BATCH_WINDOW_KEYS if not k.startswith("instrumental_ai_"))
BATCH_KEYS = ("filename", "duration_s", *MODULATE_CLIP_FIELDS, "windows", "latency_ms")
DONE_KEYS = ("type", "duration_ms", "window_count", *MODULATE_CLIP_FIELDS)


def _only(obj: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: obj[k] for k in keys}


def v2_window(v: WindowVerdict) -> dict[str, Any]:
    """Opt-in dual-lane shape: every window scored on both lanes, ``null`` = nothing to evaluate."""
    base = window_dict(v)
    score = base["ai_score"]
    return {
        "start_time_ms": v.start_ms,
        "end_time_ms": v.end_ms,
        "vocal_percentage": base["vocal_percentage"],
        "vocal_ai_probability": score if v.vocal_percentage > 0 else None,
        "instrumental_percentage": base["instrumental_percentage"],
        "instrumental_ai_probability": score if v.instrumental_percentage > 0 else None,
        "silence_percentage": base["silence_percentage"],
    }


def window_message(v: WindowVerdict, *, v2: bool = False) -> dict[str, Any]:
    return {"type": "window", "window": v2_window(v) if v2 else _only(window_dict(v), STREAM_WINDOW_KEYS)}


def done_message(s: StreamSummary) -> dict[str, Any]:
    return _only(done_dict(s), DONE_KEYS)


def batch_response(s: StreamSummary, *, filename: str, latency_ms: float, v2: bool = False) -> dict[str, Any]:
    body = _only(batch_dict(s, filename=filename, latency_ms=latency_ms), BATCH_KEYS)
    body["windows"] = [v2_window(w) for w in s.windows] if v2 else [_only(w, BATCH_WINDOW_KEYS) for w in body["windows"]]
    return body


def error_message(text: str) -> dict[str, str]:
    return {"type": "error", "error": text}



def missing_field_body(field: str) -> dict[str, Any]:
    """FastAPI's request-validation body for a missing form field (422)."""
    return {"detail": [{"loc": ["body", field], "msg": "Field required", "type": "missing"}]}


# ---------------------------------------------------------------- parsers


class WireFormatError(ValueError):
    """A vendor message does not have the documented shape."""


def parse_window(obj: Mapping[str, Any], *, ai_threshold: float = 0.5) -> WindowVerdict:
    """A v1 (batch or streaming) or v2 window back into a :class:`WindowVerdict`.

    Vendor windows carry no level, speech share or running scores: ``level_dbfs``
    is NaN (unknown) and the running/rolling scores equal the window's own score,
    for the caller's aggregator to replace.
    """
    try:
        start, end = int(obj["start_time_ms"]), int(obj["end_time_ms"])
        vocal_pct = float(obj["vocal_percentage"])
        instr_pct = float(obj["instrumental_percentage"])
        silence_pct = float(obj["silence_percentage"])
        if "vocal_ai_percentage" in obj:
            vocal_ai = float(obj["vocal_ai_percentage"])
            vocal_conf = float(obj["vocal_ai_confidence"])
            instr_ai = float(obj.get("instrumental_ai_percentage", 0.0))
            instr_conf = float(obj.get("instrumental_ai_confidence", 0.0))
            score = vocal_conf if vocal_ai or vocal_conf else instr_conf
            is_ai = vocal_ai >= 100 or instr_ai >= 100
        elif "vocal_ai_probability" in obj:
            probs = {lane: obj.get(f"{lane}_ai_probability") for lane in ("vocal", "instrumental")}
            score = max((float(p) for p in probs.values() if p is not None), default=0.0)
            is_ai = score >= ai_threshold
            vocal_p, instr_p = (float(probs[k] or 0.0) for k in ("vocal", "instrumental"))
            vocal_ai, vocal_conf = (100.0 if vocal_p >= ai_threshold else 0.0), vocal_p
            instr_ai, instr_conf = (100.0 if instr_p >= ai_threshold else 0.0), instr_p
        else:
            raise WireFormatError("window has neither *_ai_percentage nor *_ai_probability fields")
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, WireFormatError):
            raise
        raise WireFormatError(f"malformed Modulate window: {exc!r}") from exc
    if is_ai:
        decision = Decision.AI
    elif vocal_pct == 0 and instr_pct == 0:
        decision = Decision.SILENCE
    else:
        decision = Decision.HUMAN
    return WindowVerdict(
        start_ms=start,
        end_ms=end,
        vocal_percentage=vocal_pct,
        vocal_ai_percentage=vocal_ai,
        vocal_ai_confidence=vocal_conf,
        instrumental_percentage=instr_pct,
        instrumental_ai_percentage=instr_ai,
        instrumental_ai_confidence=instr_conf,
        silence_percentage=silence_pct,
        speech_percentage=0.0,
        level_dbfs=math.nan,
        ai_score=score,
        decision=decision,
        running_ai_score=score,
        rolling_ai_score=score,
    )
