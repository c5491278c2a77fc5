"""Undetectable.AI (TruthScan) audio-detector wire format, sans I/O (vendor-protocols.md §4).

The vendor uploads to S3-style storage through a presigned URL; we host the
upload target ourselves and sign its URL with HMAC-SHA256 over method, object
path and expiry, so only URLs we issued, unexpired, are accepted.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlparse

from ..types import StreamSummary
from .errors import RequestError
from .signing import sign, verify

UPLOAD_PREFIX = "/uploads/"
PRESIGN_TTL_S = 900
MIN_UPLOAD_BYTES = 1024
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
CONTENT_TYPES = frozenset(
    {"audio/mp3", "audio/mpeg", "audio/wav", "audio/x-wav", "audio/wave", "audio/m4a", "audio/mp4",
     "audio/x-m4a", "audio/flac", "audio/x-flac", "audio/ogg"}
)  # fmt: skip
_FOLDER = re.compile(r"^[0-9a-f]{16}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9._()\-]{1,200}\.(mp3|wav|m4a|flac|ogg)$", re.IGNORECASE)


class TaskStatus(StrEnum):
    PENDING = "pending"
    ANALYZING = "analyzing"
    DONE = "done"
    FAILED = "failed"


def validate_file_name(name: str | None) -> str:
    if not name:
        raise RequestError("file_name query parameter is required")
    if not _FILE_NAME.match(name):
        raise RequestError("file_name must have no spaces and end in .mp3, .wav, .m4a, .flac or .ogg")
    return name


def new_file_path(file_name: str) -> str:
    """Where a presigned upload lands: a random folder keeps two clients' ``example.mp3`` apart."""
    return f"{UPLOAD_PREFIX.strip('/')}/{secrets.token_hex(8)}/{file_name}"


def file_path_of(url: str) -> str:
    """The upload a detect ``url`` names: the ``file_path`` we returned, or the whole presigned URL."""
    path = urlparse(url).path.lstrip("/")
    folder, _, name = path.removeprefix(UPLOAD_PREFIX.lstrip("/")).partition("/")
    if not path.startswith(UPLOAD_PREFIX.lstrip("/")) or not _FOLDER.match(folder) or not _FILE_NAME.match(name):
        raise RequestError("url must be a file_path returned by /get-presigned-url", 404)
    return path


def _string_to_sign(file_path: str, expires: int) -> str:
    return f"PUT\n{file_path}\n{expires}"


def presign(secret: bytes, base_url: str, file_path: str, now: float, ttl_s: int = PRESIGN_TTL_S) -> str:
    expires = int(now) + ttl_s
    signature = sign(secret, _string_to_sign(file_path, expires))
    return f"{base_url.rstrip('/')}/{quote(file_path)}?expires={expires}&signature={signature}"


def check_presigned(secret: bytes, file_path: str, query: Mapping[str, str], now: float) -> None:
    """Raise :class:`RequestError` (403) unless the URL is one we signed and it has not expired."""
    try:
        expires = int(query["expires"])
        signature = query["signature"]
    except (KeyError, ValueError) as exc:
        raise RequestError("missing or malformed signature", 403) from exc
    if not verify(secret, _string_to_sign(file_path, expires), signature):
        raise RequestError("signature does not match", 403)
    if now > expires:
        raise RequestError("presigned URL has expired", 403)


def check_content_type(content_type: str | None) -> None:
    """Checked before the body is read: a wrong type is refused without storing anything."""
    if (content_type or "").split(";")[0].strip().lower() not in CONTENT_TYPES:
        raise RequestError(f"unsupported Content-Type {content_type!r}; use audio/mp3, wav, m4a, flac or ogg", 415)


def check_size(size: int) -> None:
    if not MIN_UPLOAD_BYTES <= size <= MAX_UPLOAD_BYTES:
        raise RequestError(f"file size must be between {MIN_UPLOAD_BYTES} bytes and {MAX_UPLOAD_BYTES} bytes", 413)


@dataclass(frozen=True, slots=True)
class DetectRequest:
    key: str
    url: str
    analyze_up_to_s: float | None


def parse_detect(body: Any) -> DetectRequest:
    if not isinstance(body, dict):
        raise RequestError("body must be a JSON object")
    key, url = body.get("key"), body.get("url")
    if not isinstance(key, str) or not key:
        raise RequestError("field 'key' is required")
    if not isinstance(url, str) or not url:
        raise RequestError("field 'url' is required")
    doc_type = body.get("document_type", "Audio")
    if doc_type != "Audio":
        raise RequestError("document_type must be 'Audio'")
    limit = body.get("analyzeUpToSeconds")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0):
        raise RequestError("analyzeUpToSeconds must be a positive number")
    return DetectRequest(key, url, float(limit) if limit is not None else None)


def parse_query(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise RequestError("field 'id' is required")
    return body["id"]


def presign_response(presigned_url: str, file_path: str) -> dict[str, str]:
    return {"status": "success", "presigned_url": presigned_url, "file_path": file_path}


def task_response(task_id: str, status: TaskStatus) -> dict[str, Any]:
    return {"id": task_id, "status": status.value}


def result_details(summary: StreamSummary, *, original_duration_s: float, analysed_s: float) -> dict[str, Any]:
    """The ``result_details`` of a done task; one chunk per analysis window."""
    return {
        "is_valid": summary.window_count > 0,
        "message": summary.message,
        "original_duration": round(original_duration_s, 2),
        "is_truncated": analysed_s < original_duration_s,
        "truncated_duration": round(analysed_s, 2),
        "mean_ai_prob": round(summary.ai_score, 4),
        "individual_chunks_ai_prob": [round(w.ai_score, 4) for w in summary.windows],
    }


def done_response(task_id: str, details: Mapping[str, Any]) -> dict[str, Any]:
    return {**task_response(task_id, TaskStatus.DONE), "result": details["mean_ai_prob"], "result_details": dict(details)}


def failed_response(task_id: str, message: str) -> dict[str, Any]:
    return {**task_response(task_id, TaskStatus.FAILED), "result": None, "result_details": {"is_valid": False, "message": message}}


def credits_response(credits: float) -> dict[str, float]:
    """Shape of Undetectable's text-product credits answer (audio shape undocumented)."""
    return {"baseCredits": credits, "boostCredits": 0, "credits": credits}
