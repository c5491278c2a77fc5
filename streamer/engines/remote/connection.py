"""What every remote engine shares: one aiohttp client per engine, error text without secrets, metrics."""

from __future__ import annotations

import time
from typing import Self

import aiohttp

from ...sinks.metrics import metrics


class HttpClient:
    """One connection pool per engine, opened inside the running loop on first use."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def describe(exc: BaseException) -> str:
    """A transport failure in words, never with the URL: URLs carry keys (Modulate's ``api_key=``)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__


class Attempt:
    """Times one request and records it: ``with Attempt(engine) as a: ...; a.outcome = "ok"``."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.outcome = "error"

    def __enter__(self) -> Self:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        metrics.engine_request(self.engine, self.outcome, time.perf_counter() - self._started)
