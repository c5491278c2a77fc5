"""The receiving end of MIPPIA's webhooks, sans I/O (vendor-protocols.md §3.4).

One POST at the callback URL is either the registration challenge (echo it)
or a task update signed ``HMAC-SHA256(secret, "{timestamp}:{task_id}")``.
Signing and verification are :mod:`streamer.vendors.mippia`'s, shared with
the sending side in ``aimd serve``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...vendors import mippia

#: Task states that carry no result: nobody waits for these.
_NOT_FINAL = frozenset({mippia.TaskStatus.PENDING.value, mippia.TaskStatus.PROCESSING.value})


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    status: int
    body: dict[str, str]
    #: (task id, body) of a verified update that ends its task; None otherwise.
    result: tuple[str, dict[str, Any]] | None = None


def _refuse(status: int, why: str) -> WebhookAnswer:
    return WebhookAnswer(status, {"error": why})


def answer(secret: bytes, raw: bytes, headers: Mapping[str, str], now: float) -> WebhookAnswer:
    """What to answer one POST to the callback URL, and the task result it delivers, if any.

    Malformed bodies get 400; updates whose signature is missing, wrong or
    older than five minutes get 401, so a forger or a replay changes nothing.
    """
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return _refuse(400, "body is not JSON")
    if not isinstance(body, dict):
        return _refuse(400, "body is not a JSON object")
    if body.get("type") == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            return _refuse(400, "challenge missing")
        return WebhookAnswer(200, {"challenge": challenge})
    # The API reference's task_id, or the quick-start's taskId.
    task_id = body.get("task_id") or body.get("taskId")
    if not isinstance(task_id, str) or not task_id:
        return _refuse(400, "task_id missing")
    lowered = {name.lower(): value for name, value in headers.items()}
    if not mippia.verify_webhook(secret, task_id, lowered, now):
        return _refuse(401, "invalid or expired signature")
    final = body.get("status") not in _NOT_FINAL
    return WebhookAnswer(200, {"status": "received"}, (task_id, body) if final else None)
