"""Running and rolling scores for engines whose vendor judges windows one at a time.

Vendors send a score per window (or per clip) only; the stream-level scores
every :class:`WindowVerdict` carries are kept here, over music windows only,
as the local engine does (silence and speech say nothing about AI music).
"""

from __future__ import annotations

import dataclasses
from collections import deque

from ...types import Decision, WindowVerdict

_MUSIC = (Decision.AI, Decision.HUMAN)


class ScoreTracker:
    def __init__(self, rolling_windows: int) -> None:
        self._sum = 0.0
        self._count = 0
        self._recent: deque[float] = deque(maxlen=rolling_windows)

    @property
    def running(self) -> float:
        return self._sum / self._count if self._count else 0.0

    def add(self, verdict: WindowVerdict) -> WindowVerdict:
        """``verdict`` with its running and rolling scores filled in."""
        if verdict.decision in _MUSIC:
            self._sum += verdict.ai_score
            self._count += 1
            self._recent.append(verdict.ai_score)
        rolling = sum(self._recent) / len(self._recent) if self._recent else 0.0
        return dataclasses.replace(verdict, running_ai_score=round(self.running, 4), rolling_ai_score=round(rolling, 4))
