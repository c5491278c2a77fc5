"""Pex AI Song Detector wire format, sans I/O (vendor-protocols.md §2)."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from typing import Any

from ..types import Status, StreamSummary

TOKEN_TYPE = "Bearer"
TOKEN_TTL_S = 7200
MAX_REQUEST_ID = 2**63 - 1


def new_request_id() -> int:
    """A random positive int64, like Pex's 806957142976735233 (beyond JS's safe integers)."""
    return secrets.randbelow(MAX_REQUEST_ID - 2**53) + 2**53


class CredentialsError(ValueError):
    """The token request's credentials are missing or malformed (RFC 6749 ``invalid_client``)."""


def parse_basic_auth(header: str | None) -> tuple[str, str]:
    """``Authorization: Basic base64(id:secret)`` → ``(id, secret)``."""
    if not header or not header.startswith("Basic "):
        raise CredentialsError("HTTP Basic authentication with the client credentials is required")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialsError("malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise CredentialsError("malformed Basic credentials")
    return client_id, secret


def parse_bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def token_response(access_token: str, expires_in: int = TOKEN_TTL_S) -> dict[str, Any]:
    return {"access_token": access_token, "token_type": TOKEN_TYPE, "expires_in": expires_in}


def oauth_error(error: str, description: str) -> dict[str, str]:
    """RFC 6749 §5.2 error body (Pex documents none for its token endpoint)."""
    return {"error": error, "error_description": description}


def error_body(message: str) -> dict[str, str]:
    """Pex's documented example error body for non-200 answers."""
    return {"status": Status.ERROR.value, "message": message}


STATUS_MESSAGES: Mapping[Status, str] = {
    Status.OK: "ok",
    Status.INVALID_FILE: "The file is not recognized as a valid media file, is corrupted, or the container cannot be parsed.",
    Status.NO_AUDIO: "The media file is valid, but contains no extractable audio track.",
    Status.TOO_SHORT: "Audio is shorter than the minimum duration.",
    Status.TOO_LONG: "Audio is longer than the maximum duration.",
    Status.NOT_ENOUGH_MUSIC: "Audio exists, but does not contain enough music content for reliable classification.",
    Status.NOT_FOUND: "The URL could not be fetched.",
    Status.ERROR: "Other processing error.",
}


def status_response(request_id: int, status: Status, message: str | None = None) -> dict[str, Any]:
    """A processed request that did not end ``ok`` (still HTTP 200)."""
    return {"request_id": request_id, "status": status.value, "message": message or STATUS_MESSAGES[status]}


def detect_response(request_id: int, summary: StreamSummary) -> dict[str, Any]:
    if summary.status is not Status.OK:
        return status_response(request_id, summary.status)
    body = status_response(request_id, Status.OK)
    body["is_ai"] = summary.is_ai
    body["ai_score"] = round(summary.ai_score, 4)
    # Pex: predicted_model is null when attribution is unsure; its score only when set.
    body["predicted_model"] = summary.predicted_model
    if summary.predicted_model is not None and summary.predicted_model_score is not None:
        body["predicted_model_score"] = round(summary.predicted_model_score, 4)
    return body
