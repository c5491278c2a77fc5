"""What a remote engine session's requests cost: counted once, recorded to Prometheus and kept for the session's own snapshot."""

from __future__ import annotations

import time
from collections import Counter
from typing import Self

from ...sinks.metrics import metrics
from ...types import EngineStats


class RequestStats:
    """One session's request log. Prometheus gets the engine-wide totals; :meth:`snapshot` this stream's."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self._outcomes: Counter[str] = Counter()
        self._audio_s = 0.0
        self._latency_sum_s = self._latency_max_s = self._latency_last_s = 0.0
        self._last_outcome = ""
        self._last_at = 0.0

    def request(self, outcome: str, seconds: float) -> None:
        """``outcome``: a short fixed word (ok, quota, rejected, lost, timeout, malformed, error), never a message."""
        metrics.engine_request(self.engine, outcome, seconds)
        self._outcomes[outcome] += 1
        self._latency_sum_s += seconds
        self._latency_max_s = max(self._latency_max_s, seconds)
        self._latency_last_s = seconds
        self._last_outcome = outcome
        self._last_at = time.time()

    def audio_sent(self, seconds: float) -> None:
        metrics.engine_audio_sent(self.engine, seconds)
        self._audio_s += seconds

    def attempt(self) -> Attempt:
        return Attempt(self)

    def snapshot(self) -> EngineStats:
        count = sum(self._outcomes.values())
        return EngineStats(
            engine=self.engine,
            requests=tuple(sorted(self._outcomes.items())),
            audio_seconds_sent=round(self._audio_s, 3),
            latency_ms_last=round(self._latency_last_s * 1000, 1),
            latency_ms_mean=round(self._latency_sum_s * 1000 / count, 1) if count else 0.0,
            latency_ms_max=round(self._latency_max_s * 1000, 1),
            last_outcome=self._last_outcome,
            last_request_at=self._last_at,
        )


class Attempt:
    """Times one request and records it: ``with stats.attempt() as a: ...; a.outcome = "ok"``."""

    def __init__(self, stats: RequestStats) -> None:
        self._stats = stats
        self.outcome = "error"

    def __enter__(self) -> Self:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stats.request(self.outcome, time.perf_counter() - self._started)
