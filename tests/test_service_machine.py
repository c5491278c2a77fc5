"""The pure supervision state machine: transitions, backoff, circuit breaker, watchdog, burst-aware gaps."""

from __future__ import annotations

import random

import pytest

from streamer.service.config import SupervisionSettings
from streamer.service.machine import SourceMachine, SourceState, reconnect_gap_s

POLICY = SupervisionSettings(
    backoff_base_s=1, backoff_cap_s=8, watchdog_s=5, stable_s=30, circuit_failures=4, circuit_open_s=300
)


def machine() -> SourceMachine:
    return SourceMachine(POLICY, random.Random(7))


def test_first_audio_runs_and_a_loss_reconnects() -> None:
    m = machine()
    m.attempt(0.0)
    assert m.state is SourceState.STARTING
    assert m.audio(0.5, 0.1) is SourceState.RUNNING
    assert m.audio(0.6, 0.1) is None  # already running: no second transition
    retry = m.failed()
    assert (retry.state, retry.failures, retry.changed) == (SourceState.RECONNECTING, 1, True)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    m = machine()
    delays = []
    for _ in range(3):
        m.attempt(0.0)
        delays.append(m.failed().delay_s)
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert all(4.0 <= m.backoff(n) <= 8.0 for n in range(4, 40))  # never past the 8 s cap
    assert len({round(m.backoff(5), 6) for _ in range(20)}) > 1  # jitter: not lockstep


def test_repeated_failures_open_the_circuit_and_stay_quiet() -> None:
    m = machine()
    retries = []
    for _ in range(6):
        m.attempt(0.0)
        retries.append(m.failed())
    states = [r.state for r in retries]
    assert states == [SourceState.RECONNECTING] * 3 + [SourceState.CIRCUIT_OPEN] * 3
    assert [r.changed for r in retries] == [True, False, False, True, False, False]  # logged once per state
    assert retries[-1].delay_s == 300


def test_failures_reset_only_after_a_stable_run() -> None:
    m = machine()
    for _ in range(3):
        m.attempt(0.0)
        m.failed()
    m.attempt(100.0)
    t = 100.0
    while t < 110.0:  # a flapping stream: runs 10 s, not long enough to be forgiven
        t += 0.5
        m.audio(t, 0.5)
    assert m.failures == 3
    assert m.failed().state is SourceState.CIRCUIT_OPEN
    m.attempt(1000.0)
    t = 1000.0
    while t < 1031.0:
        t += 0.5
        m.audio(t, 0.5)
    assert m.failures == 0 and m.state is SourceState.RUNNING


def test_watchdog_counts_from_the_attempt_before_any_audio() -> None:
    m = machine()
    m.attempt(10.0)
    assert m.watchdog_deadline() == 15.0


def test_watchdog_gives_a_burst_its_worth_of_silence() -> None:
    m = machine()
    m.attempt(0.0)
    for _ in range(60):  # 6 s of audio at once: an HLS segment or Icecast's burst
        m.audio(1.0, 0.1)
    assert m.covered_until == pytest.approx(6.9)
    assert m.watchdog_deadline() == pytest.approx(11.9)
    m.audio(12.0, 0.1)  # real-time from here: coverage tracks the clock again
    assert m.covered_until == pytest.approx(12.0)


def test_coverage_is_capped_so_a_fast_clock_cannot_blind_the_watchdog() -> None:
    m = machine()
    m.attempt(0.0)
    for _ in range(1000):  # 1000 s of audio delivered at once
        m.audio(0.0, 1.0)
    assert m.covered_until == POLICY.max_burst_s


def test_reconnect_gap_excludes_the_burst_of_the_past() -> None:
    # Old audio last arrived at t=100; reconnected, held 0.5 s, during which 4.5 s arrived (4 s burst).
    assert reconnect_gap_s(100.0, released_at=110.5, held_audio_s=4.5) == pytest.approx(6.0)
    assert reconnect_gap_s(100.0, released_at=101.0, held_audio_s=5.0) == 0.0  # never negative
    assert reconnect_gap_s(None, released_at=5.0, held_audio_s=1.0) == 0.0  # first connection


def test_stop_is_final() -> None:
    m = machine()
    assert m.stop() is SourceState.STOPPED
    assert m.stop() is None


def test_start_delay_spreads_sources_within_the_jitter() -> None:
    delays = [machine().start_delay() for _ in range(3)] + [SourceMachine(POLICY).start_delay() for _ in range(50)]
    assert all(0 <= d <= POLICY.start_jitter_s for d in delays) and len(set(delays)) > 10
