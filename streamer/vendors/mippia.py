"""MIPPIA AI-music-detection wire format, sans I/O (vendor-protocols.md §3).

Poll results use the API reference's snake_case shape; webhooks send the same
body plus a ``taskId`` alias, signed ``HMAC-SHA256(secret, "{ts}:{task_id}")``.
"""

from __future__ import annotations

import re
import secrets
import string
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..types import StreamSummary
from .errors import RequestError
from .signing import sign, verify

SIGNATURE_HEADER = "x-mippia-signature"
TIMESTAMP_HEADER = "x-mippia-timestamp"
MAX_SIGNATURE_AGE_S = 300
_ALPHANUM = string.ascii_letters + string.digits
#: Upload formats the API reference lists.
MUSIC_EXTENSIONS = (".mp3", ".wav", ".flac", ".m4a", ".aac", ".ogg")
_UNSAFE = re.compile(r"[^A-Za-z0-9._()\- ]")


class ModelTier(StrEnum):
    LITE = "lite"
    STANDARD = "standard"
    PRO = "pro"
    PRO_V2 = "pro-v2"


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILURE = "failure"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_task_id(now: float) -> str:
    """``task_20251204052920_J8uNdq5z`` as in Mippia's examples."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    return f"task_{stamp}_{''.join(secrets.choice(_ALPHANUM) for _ in range(8))}"


def parse_tier(name: str) -> ModelTier:
    try:
        return ModelTier(name)
    except ValueError:
        raise ValueError(f"model_name must be one of {[t.value for t in ModelTier]}") from None


def music_file_name(name: str | None) -> str:
    """A stored name for an upload: the client's base name, with its (checked) extension kept."""
    base = _UNSAFE.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    if not base.lower().endswith(MUSIC_EXTENSIONS):
        raise RequestError(f"file must be one of {', '.join(e[1:] for e in MUSIC_EXTENSIONS)}")
    return base


def parse_music_id(body: Any) -> str:
    """``{"musicId": "<uuid>"}``; anything but a UUID is refused (it names a folder)."""
    music_id = body.get("musicId") if isinstance(body, dict) else None
    if not isinstance(music_id, str) or not music_id:
        raise RequestError("field 'musicId' is required")
    try:
        return str(uuid.UUID(music_id))
    except ValueError:
        raise RequestError("musicId is not a valid id") from None


def upload_response(music_id: str, title: str, created_at: float) -> dict[str, Any]:
    return {"musicId": music_id, "title": title, "created_at": iso(created_at)}


def task_created(task_id: str, filepath: str, tier: ModelTier, created_at: float) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "taskId": task_id,  # the quick-start's camelCase spelling
        "status": TaskStatus.PENDING.value,
        "filepath": filepath,
        "model": tier.value,
        "created_at": iso(created_at),
    }


def task_status(task_id: str, status: TaskStatus, tier: ModelTier) -> dict[str, Any]:
    return {"task_id": task_id, "status": status.value, "result": None, "model_type": tier.value}


def task_failure(task_id: str, tier: ModelTier, error: str) -> dict[str, Any]:
    return {**task_status(task_id, TaskStatus.FAILURE, tier), "error": error}


def task_success(task_id: str, tier: ModelTier, result: dict[str, Any], completed_at: float) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "status": TaskStatus.SUCCESS.value,
        "model_type": tier.value,
        "completed_at": iso(completed_at),
        "result": result,
    }


def _label(is_fake: bool) -> str:
    return "fake" if is_fake else "real"


def _config(model_id: str, focus: str, task: str, labels: list[str]) -> dict[str, Any]:
    return {"model_id": model_id, "analysis_focus": focus, "task": task, "num_classes": len(labels), "labels": labels}


def _confidence(score: float, is_fake: bool) -> float:
    """Mippia's confidence is that of the predicted label."""
    return round(score if is_fake else 1.0 - score, 4)


def build_result(tier: ModelTier, filename: str, summary: StreamSummary, threshold: float) -> dict[str, Any]:
    """The ``result`` object of a successful task for this tier.

    lite: the clip fingerprint verdict only. standard: plus per-window segment
    analysis. pro / pro-v2: plus the generator-attribution head.
    """
    fake = summary.is_ai
    final = {"prediction": _label(fake), "confidence": _confidence(summary.ai_score, fake)}
    models: list[dict[str, Any]] = [
        {
            "overall_analysis": dict(final),
            "config": _config("model_0", "Waveform & Melody Pattern", "Real/Fake Binary Classification", ["real", "fake"]),
        }
    ]
    if tier is not ModelTier.LITE:
        flags = [w.ai_score >= threshold for w in summary.windows]
        models.append(
            {
                "segment_analysis": {
                    "prediction": [_label(f) for f in flags],
                    "confidence": [_confidence(w.ai_score, f) for w, f in zip(summary.windows, flags)],
                },
                "overall_analysis": dict(final),
                "config": _config("model_1", "Mixing & Audio Effects", "Real/Fake Binary Classification", ["real", "fake"]),
            }
        )
    if tier in (ModelTier.PRO, ModelTier.PRO_V2):
        models.append(_attribution(summary, final))
    body = {"final_result": final, "model_results": models}
    # pro-v2 drops the filename wrapper (API reference).
    return body if tier is ModelTier.PRO_V2 else {filename: body}


def _attribution(summary: StreamSummary, final: dict[str, Any]) -> dict[str, Any]:
    """Pro's source head: the generator the engine named, ``other`` when AI but unattributed."""
    if not summary.is_ai:
        prediction, confidence = "real", final["confidence"]
    elif summary.predicted_model:
        prediction, confidence = summary.predicted_model, round(summary.predicted_model_score or 0.0, 4)
    else:
        prediction, confidence = "other", final["confidence"]
    labels = ["real", *([summary.predicted_model] if summary.predicted_model else []), "other"]
    return {
        "overall_analysis": {"prediction": prediction, "confidence": confidence},
        "config": _config("model_5", "AI Model Identification", "Detailed Fake Source Classification", labels),
    }


def webhook_headers(secret: bytes, task_id: str, now: float | None = None) -> dict[str, str]:
    ts = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, f"{ts}:{task_id}")}


def verify_webhook(secret: bytes, task_id: str, headers: dict[str, str], now: float) -> bool:
    """Receiver side: fresh timestamp and matching signature (constant-time)."""
    ts, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if ts is None or signature is None or not ts.isdigit():
        return False
    if abs(now - int(ts)) > MAX_SIGNATURE_AGE_S:
        return False
    return verify(secret, f"{ts}:{task_id}", signature)


def webhook_body(poll_body: dict[str, Any]) -> dict[str, Any]:
    """A webhook carries the poll body plus the quick-start's ``taskId`` spelling."""
    return {**poll_body, "taskId": poll_body["task_id"]}


def challenge_request(code: str) -> dict[str, str]:
    return {"challenge": code, "type": "url_verification"}


def challenge_ok(sent: str, answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("challenge") == sent
