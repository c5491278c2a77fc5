"""One vendor HTTP request with the vendors' retry advice: 429 and 5xx back off and retry, the rest answer once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..base import EngineError
from .connection import HttpClient, describe
from .settings import RemoteEngineSettings
from .stats import RequestStats

log = logging.getLogger(__name__)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or the text when it is not JSON

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def message(self) -> str:
        """The vendor's own error text: FastAPI ``detail``, Pex ``message``, OAuth ``error_description`` …"""
        if isinstance(self.body, dict):
            for key in ("detail", "message", "error_description", "error"):
                if self.body.get(key):
                    return str(self.body[key])
        return str(self.body)[:200] or f"HTTP {self.status}"


def _outcome(status: int) -> str:
    if status == 429:
        return "quota"
    if status in (401, 403):
        return "rejected"
    return "ok" if status < 400 else "error"


async def request(
    http: HttpClient,
    stats: RequestStats,
    remote: RemoteEngineSettings,
    method: str,
    url: str,
    what: str,
    make_kwargs: Callable[[], dict[str, Any]] = dict,
) -> Reply:
    """Send until the answer is final; returns it (any status but 429/5xx). ``make_kwargs`` rebuilds bodies per try.

    Every try is recorded in ``stats`` (the session that asked).
    """
    engine = stats.engine
    for attempt_no in range(remote.retries + 1):
        retry_after = ""
        with stats.attempt() as attempt:
            try:
                async with http.session.request(method, url, **make_kwargs()) as resp:
                    text = await resp.text()
                    retry_after = resp.headers.get("Retry-After", "")
                    reply = Reply(resp.status, _json_or_text(text))
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                attempt.outcome = "timeout" if isinstance(exc, TimeoutError) else "lost"
                reason = describe(exc)
            else:
                attempt.outcome = _outcome(reply.status)
                if reply.status not in _RETRY_STATUSES:
                    return reply
                reason = f"HTTP {reply.status}: {reply.message()}"
        if attempt_no == remote.retries:
            raise EngineError(f"{engine}: {what} failed after {attempt_no + 1} attempts ({reason})", retryable=True)
        delay = max(remote.retry_delay(attempt_no), _seconds(retry_after))
        log.warning("%s: %s: %s; retrying in %.1f s", engine, what, reason, delay)
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _seconds(retry_after: str) -> float:
    return float(retry_after) if retry_after.isdigit() else 0.0


def fail(engine: str, what: str, reply: Reply) -> EngineError:
    """A final refusal, with the vendor's message (never our request, which may hold a key)."""
    return EngineError(f"{engine}: {what} refused with HTTP {reply.status}: {reply.message()}")
