"""AI-music segment hysteresis (pure)."""

from __future__ import annotations

from sink_fixtures import verdict

from streamer.sinks.events import SegmentPhase, SegmentTracker
from streamer.sinks.settings import EventSettings
from streamer.types import Decision

A, H, S = Decision.AI, Decision.HUMAN, Decision.SILENCE


def run(decisions: list[Decision], open_windows: int = 3, close_windows: int = 2):
    tracker = SegmentTracker(EventSettings(open_windows=open_windows, close_windows=close_windows))
    events = []
    for i, d in enumerate(decisions):
        events += [(i, e) for e in tracker.feed(verdict(i, d))]
    return tracker, events


def test_single_noisy_window_never_opens_a_segment() -> None:
    tracker, events = run([H, A, H, A, A, H, S, A, H])
    assert events == [] and not tracker.active


def test_segment_opens_after_n_windows_and_starts_at_the_first_of_them() -> None:
    tracker, events = run([H, A, A, A, A])
    assert [(i, e.type) for i, e in events] == [(3, SegmentPhase.START), (4, SegmentPhase.UPDATE)]
    start = events[0][1]
    assert (start.start_ms, start.end_ms, start.windows, start.ended_at) == (4000, 16000, 3, None)
    assert tracker.active


def test_gap_shorter_than_close_keeps_the_segment_and_its_id() -> None:
    _, events = run([A, A, A, H, A, H, H, H])
    types = [e.type for _, e in events]
    assert types == [SegmentPhase.START, SegmentPhase.UPDATE, SegmentPhase.END]
    assert len({e.id for _, e in events}) == 1
    end = events[-1][1]
    assert events[-1][0] == 6  # closed on the second non-AI window
    assert (end.start_ms, end.end_ms, end.windows) == (0, 20000, 4)  # ends at the last AI window
    assert end.ended_at is not None


def test_next_segment_gets_a_new_id() -> None:
    _, events = run([A, A, H, A, A, H], open_windows=2, close_windows=1)
    ids = [e.id for _, e in events if e.type is SegmentPhase.START]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_finish_closes_an_open_segment_only() -> None:
    tracker, _ = run([A, A, A])
    closing = tracker.finish()
    assert [e.type for e in closing] == [SegmentPhase.END] and not tracker.active
    assert tracker.finish() == []
    candidate, _ = run([A, A])
    assert candidate.finish() == []


def test_scores_are_aggregated() -> None:
    tracker = SegmentTracker(EventSettings(open_windows=2, close_windows=1))
    tracker.feed(verdict(0, A, ai_score=0.6))
    (start,) = tracker.feed(verdict(1, A, ai_score=1.0))
    assert (start.max_ai_score, start.mean_ai_score) == (1.0, 0.8)
