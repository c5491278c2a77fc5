"""AI-music segments from per-window decisions, with hysteresis (pure).

A segment opens after ``open_windows`` consecutive AI windows (so one noisy
window never opens one) and closes after ``close_windows`` consecutive non-AI
windows, like Frigate's ``max_not_heard``. The segment starts at the first AI
window of the opening run and ends at the last AI window before the closing run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..types import Decision, WindowVerdict
from .settings import EventSettings


class SegmentPhase(StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True, slots=True)
class SegmentEvent:
    type: SegmentPhase
    id: str  # stable for the life of the segment
    start_ms: int
    end_ms: int  # stream end of the segment's last AI window so far
    started_at: float  # wall clock of the first AI window's last sample
    ended_at: float | None  # wall clock of the last AI window, set on END
    windows: int  # AI windows in the segment
    max_ai_score: float
    mean_ai_score: float

    @property
    def seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000.0


@dataclass(slots=True)
class _Run:
    """Consecutive AI windows: the opening candidate, then the open segment."""

    start_ms: int
    started_at: float
    end_ms: int = 0
    last_at: float = 0.0
    windows: int = 0
    score_sum: float = 0.0
    max_score: float = 0.0

    def add(self, verdict: WindowVerdict) -> None:
        self.end_ms = verdict.end_ms
        self.last_at = verdict.captured_at
        self.windows += 1
        self.score_sum += verdict.ai_score
        self.max_score = max(self.max_score, verdict.ai_score)


class SegmentTracker:
    """Feed one source's window verdicts in order; get segment events back."""

    def __init__(self, settings: EventSettings) -> None:
        self._settings = settings
        self._run: _Run | None = None
        self._open = False
        self._misses = 0

    @property
    def active(self) -> bool:
        return self._open

    def feed(self, verdict: WindowVerdict) -> list[SegmentEvent]:
        if verdict.decision is Decision.AI:
            return self._ai(verdict)
        return self._not_ai()

    def finish(self) -> list[SegmentEvent]:
        """End of stream: close an open segment, forget a candidate run."""
        events = [self._event(SegmentPhase.END)] if self._open else []
        self._reset()
        return events

    def _ai(self, verdict: WindowVerdict) -> list[SegmentEvent]:
        self._misses = 0
        if self._run is None:
            self._run = _Run(start_ms=verdict.start_ms, started_at=verdict.captured_at)
        self._run.add(verdict)
        if self._open:
            return [self._event(SegmentPhase.UPDATE)]
        if self._run.windows >= self._settings.open_windows:
            self._open = True
            return [self._event(SegmentPhase.START)]
        return []

    def _not_ai(self) -> list[SegmentEvent]:
        if not self._open:
            self._run = None  # the candidate run is broken
            return []
        self._misses += 1
        if self._misses < self._settings.close_windows:
            return []
        return self.finish()

    def _reset(self) -> None:
        self._run = None
        self._open = False
        self._misses = 0

    def _event(self, phase: SegmentPhase) -> SegmentEvent:
        run = self._run
        assert run is not None  # only called with a run in progress
        return SegmentEvent(
            type=phase,
            id=f"{int(run.started_at * 1000)}-{run.start_ms}",
            start_ms=run.start_ms,
            end_ms=run.end_ms,
            started_at=run.started_at,
            ended_at=run.last_at if phase is SegmentPhase.END else None,
            windows=run.windows,
            max_ai_score=round(run.max_score, 4),
            mean_ai_score=round(run.score_sum / run.windows, 4),
        )
