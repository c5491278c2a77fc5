"""The client side of Modulate's streaming WebSocket, sans I/O (vendor-protocols.md §1.3–1.5).

What to connect to, what bytes to send for a window, what a server message
means and what a close code asks the client to do. The server side of the
same protocol is :mod:`streamer.vendors.modulate_stream`; window parsing is
shared with it through :func:`streamer.vendors.modulate.parse_window`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any
from urllib.parse import urlencode

import numpy as np

from ...types import SAMPLE_RATE, ClipVerdict, PrimaryVerdict, WindowVerdict
from ...vendors.modulate import WINDOW_MS, CloseCode, WireFormatError, parse_window

STREAM_PATH = "/api/velma-2-ai-music-detection-streaming"
END_OF_STREAM = ""


def stream_url(base_url: str, api_key: str, channels: int, *, dual_lane: bool = False) -> str:
    """The connect URL: raw s16le at the analysis rate, so the server needs no decoder guesswork."""
    query = {"api_key": api_key, "audio_format": "s16le", "sample_rate": SAMPLE_RATE, "num_channels": channels}
    if dual_lane:
        query["schema_version"] = 2  # aimd serve's opt-in *_ai_probability shape
    return f"{base_url}{STREAM_PATH}?{urlencode(query)}"


def pcm_frame(samples: np.ndarray) -> bytes:
    """float32 ``(frames, channels)`` → interleaved s16le bytes, one binary frame."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def check_window_length(length_s: float, hop_s: float | None) -> None:
    """One window sent must come back as one window: Modulate cuts fixed 4 s windows, back to back."""
    if round(length_s * 1000) != WINDOW_MS or (hop_s is not None and round(hop_s * 1000) != WINDOW_MS):
        raise ValueError("the modulate engine needs 4 s windows without overlap (--window 4, no --hop)")


@dataclass(frozen=True, slots=True)
class WindowMessage:
    verdict: WindowVerdict


@dataclass(frozen=True, slots=True)
class DoneMessage:
    clip: ClipVerdict


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    text: str


ServerMessage = WindowMessage | DoneMessage | ErrorMessage


def parse_message(text: str, *, ai_threshold: float = 0.5) -> ServerMessage:
    """One text frame from the server. Raises :class:`WireFormatError` on anything undocumented."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise WireFormatError(f"not JSON: {text[:80]!r}") from exc
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind == "window" and isinstance(obj.get("window"), dict):
        return WindowMessage(parse_window(obj["window"], ai_threshold=ai_threshold))
    if kind == "done":
        return DoneMessage(parse_done(obj))
    if kind == "error":
        return ErrorMessage(str(obj.get("error", "")))
    raise WireFormatError(f"unexpected message: {text[:80]!r}")


def parse_done(obj: dict[str, Any]) -> ClipVerdict:
    """The ``done`` summary as a clip verdict.

    Modulate gives a verdict and per-lane confidences, no single score: the
    score is the confidence of the lane the verdict names (the larger one
    when the verdict is not AI).
    """
    try:
        verdict = PrimaryVerdict(obj["primary_verdict"])
        vocal, instrumental = float(obj["vocal_ai_confidence"]), float(obj["instrumental_ai_confidence"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WireFormatError(f"malformed done message: {exc!r}") from exc
    score = {PrimaryVerdict.AI_VOCAL: vocal, PrimaryVerdict.AI_INSTRUMENTAL: instrumental}.get(verdict, max(vocal, instrumental))
    return ClipVerdict(ai_score=score, is_ai=verdict is not PrimaryVerdict.NOT_AI, evidence=(f"modulate: {verdict.value}",))


class CloseAction(Enum):
    RECONNECT = auto()  # 1011, going away, network loss: new session after a backoff
    BACK_OFF = auto()  # 4029: over quota or concurrency; retry, more slowly
    FAIL_CONFIG = auto()  # 1003, 4002: our request is wrong; retrying cannot help
    FAIL_AUTH = auto()  # 4001, 4003: the key is wrong or not allowed this model


_CLOSE_ACTIONS = {
    CloseCode.INVALID_PARAMS: CloseAction.FAIL_CONFIG,
    CloseCode.UNDECODABLE: CloseAction.FAIL_CONFIG,
    CloseCode.BAD_API_KEY: CloseAction.FAIL_AUTH,
    CloseCode.FORBIDDEN: CloseAction.FAIL_AUTH,
    CloseCode.OVER_QUOTA: CloseAction.BACK_OFF,
}


def close_action(code: int | None) -> CloseAction:
    return _CLOSE_ACTIONS.get(code, CloseAction.RECONNECT)  # type: ignore[call-overload]
