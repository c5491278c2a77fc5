"""Per-key limits beyond concurrency: enabled APIs, monthly audio quotas, request rates.

Usage is kept in the task store (SQLite), so quotas survive a restart; one
counter per principal, API and calendar month (UTC) means a new month starts
from zero without any reset job.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from .auth import Credentials
from .settings import Api
from .tasks import TaskStore


class NotEnabled(Exception):
    """The key is valid but not enabled for this API."""


class QuotaExceeded(Exception):
    """The key has used its audio for this API this month."""


def usage_counter(principal: str, api: Api, now: float) -> str:
    return f"{principal}/{api.value}/{time.strftime('%Y-%m', time.gmtime(now))}"


class Quotas:
    def __init__(self, store: TaskStore, credentials: Credentials) -> None:
        self._store = store
        self._credentials = credentials

    async def admit(self, principal: str, api: Api) -> None:
        """Raise :class:`NotEnabled` / :class:`QuotaExceeded` unless the principal may start a request."""
        if api not in self._credentials.policy(principal).apis:
            raise NotEnabled(api.value)
        if await self.remaining_s(principal, api) <= 0:
            raise QuotaExceeded(api.value)

    async def remaining_s(self, principal: str, api: Api) -> float:
        used = await self._store.usage(usage_counter(principal, api, time.time()))
        return max(0.0, self._credentials.policy(principal).quota_s - used)

    async def charge(self, principal: str, api: Api, audio_s: float) -> bool:
        """Count analysed audio; False once the quota is used up (a stream then stops)."""
        if audio_s > 0:
            await self._store.add_usage(usage_counter(principal, api, time.time()), audio_s)
        return await self.remaining_s(principal, api) > 0


class RateLimiter:
    """At most ``per_minute`` requests per principal in any sliding 60 s."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)

    def allow(self, principal: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        recent = self._recent[principal]
        while recent and recent[0] <= now - 60.0:
            recent.popleft()
        if len(recent) >= self._per_minute:
            return False
        recent.append(now)
        return True

    def retry_after_s(self, principal: str, now: float | None = None) -> int:
        """Seconds until the oldest counted request leaves the window."""
        now = time.monotonic() if now is None else now
        recent = self._recent[principal]
        return max(1, int(recent[0] + 60.0 - now) + 1) if recent else 1
