"""Deliver Mippia webhooks: challenge handshake at start-up, then signed deliveries with retries.

One delivery worker sends in order, so a task's ``processing`` always reaches
the receiver before its ``success``. A receiver that fails the handshake gets
no deliveries (like a callback URL the vendor's dashboard refused to register).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from typing import Any

import aiohttp

from ..vendors import mippia

log = logging.getLogger(__name__)


class WebhookSender:
    def __init__(self, url: str, secret: bytes, *, attempts: int, timeout_s: float, backoff_s: float) -> None:
        self.url = url
        self._secret = secret
        self._attempts = attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._backoff_s = backoff_s
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._client: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        #: Deliveries that exhausted their retries (for metrics and tests).
        self.given_up = 0

    def enqueue(self, body: dict[str, Any]) -> None:
        self._queue.put_nowait(body)

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(timeout=self._timeout)
        self._worker = asyncio.create_task(self._run(), name="mippia-webhooks")

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._client is not None:
            await self._client.close()

    async def _run(self) -> None:
        code = secrets.token_urlsafe(16)
        if not await self._with_retries(lambda: self._challenge(code)):
            log.error("Mippia webhook URL failed the challenge handshake: webhooks disabled")
            return
        while True:
            body = await self._queue.get()
            if not await self._with_retries(functools.partial(self._deliver, body)):
                self.given_up += 1
                log.warning("gave up delivering the %s webhook of task %s", body["status"], body["task_id"])

    async def _with_retries(self, attempt) -> bool:
        for n in range(self._attempts):
            try:
                if await attempt():
                    return True
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # ValueError: a non-JSON challenge answer
                log.info("webhook attempt %d failed: %s", n + 1, exc)
            if n + 1 < self._attempts:
                await asyncio.sleep(self._backoff_s * 2**n)
        return False

    async def _challenge(self, code: str) -> bool:
        assert self._client is not None
        async with self._client.post(self.url, json=mippia.challenge_request(code)) as resp:
            answer = await resp.json(content_type=None) if resp.status == 200 else None
        return mippia.challenge_ok(code, answer)

    async def _deliver(self, body: dict[str, Any]) -> bool:
        assert self._client is not None
        headers = mippia.webhook_headers(self._secret, body["task_id"])
        async with self._client.post(self.url, json=body, headers=headers) as resp:
            return 200 <= resp.status < 300
