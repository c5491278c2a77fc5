"""The per-source supervision state machine: pure, clock passed in, no I/O.

::

    starting ──connected──▶ running ──lost──▶ reconnecting ──connected──▶ running
        │                                       │  ▲
        └──failed──▶ reconnecting               │  └─ backoff with jitter, capped
                                                └──── N failures in a row ──▶ circuit-open (long pause)
    any ──stop──▶ stopped

Failures reset only after a *stable* connection: one that ran ``stable_s`` and
delivered that much audio (BirdNET-Go's rule), so a stream that flaps every
few seconds still backs off and trips the circuit.

The no-data watchdog works on audio *coverage*, not on arrival times: each
block extends the wall-clock time its audio covers, so an Icecast burst on
connect or a 6 s HLS segment buys the stream that much silence before the
watchdog fires, while a paused feeder is noticed ``watchdog_s`` after its
last audio ran out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from ..backoff import Backoff
from .config import SupervisionSettings


class SourceState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    CIRCUIT_OPEN = "circuit-open"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Retry:
    """What to do after a failure: wait ``delay_s`` in ``state``, then attempt again."""

    state: SourceState
    delay_s: float
    failures: int
    changed: bool  # False while failing again in the same state: not worth a log line or a message


class SourceMachine:
    """State, failure count, backoff and watchdog of one source. Times are ``time.monotonic()`` seconds."""

    def __init__(self, policy: SupervisionSettings, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.state = SourceState.STARTING
        #: Failures since the last stable connection.
        self.failures = 0
        self._rng = rng or random.Random()
        self._backoff = Backoff(policy.backoff_base_s, policy.backoff_cap_s)
        self._attempt_at = 0.0
        self._connected_at: float | None = None
        self._audio_s = 0.0  # audio received on the current connection
        #: Time up to which the audio received so far would last if played out (None before any audio).
        self.covered_until: float | None = None
        #: When audio last arrived: the live edge of the broadcast, since servers send the latest audio.
        self.last_audio_at: float | None = None

    # ---- events
    def attempt(self, now: float) -> None:
        """A connection attempt starts (the watchdog covers the attempt too)."""
        self._attempt_at = now
        self._connected_at = None
        self._audio_s = 0.0

    def audio(self, now: float, seconds: float) -> SourceState | None:
        """Audio arrived; returns the new state when this is the first audio of a connection."""
        start = now - seconds if self.covered_until is None else max(self.covered_until, now - seconds)
        self.covered_until = min(start + seconds, now + self.policy.max_burst_s)
        self.last_audio_at = now
        self._audio_s += seconds
        changed = None
        if self._connected_at is None:
            self._connected_at = now
            changed = self._enter(SourceState.RUNNING)
        if self.failures and self._stable(now):
            self.failures = 0
        return changed

    def failed(self) -> Retry:
        """The attempt or the running connection failed: back off, or open the circuit."""
        self.failures += 1
        self._connected_at = None
        if self.failures >= self.policy.circuit_failures:
            changed = self._enter(SourceState.CIRCUIT_OPEN) is not None
            return Retry(self.state, self.policy.circuit_open_s, self.failures, changed)
        changed = self._enter(SourceState.RECONNECTING) is not None
        return Retry(self.state, self.backoff(self.failures), self.failures, changed)

    def stop(self) -> SourceState | None:
        return self._enter(SourceState.STOPPED)

    # ---- queries
    def start_delay(self) -> float:
        return self.policy.start_jitter_s * self._rng.random()

    def backoff(self, failures: int) -> float:
        return self._backoff.delay(failures, self._rng)

    def watchdog_deadline(self) -> float:
        """Monotonic time at which, without more audio, the connection counts as dead."""
        if self._connected_at is None or self.covered_until is None:
            return self._attempt_at + self.policy.watchdog_s
        return max(self.covered_until, self._attempt_at) + self.policy.watchdog_s

    def _stable(self, now: float) -> bool:
        assert self._connected_at is not None
        stable = self.policy.stable_s
        return now - self._connected_at >= stable and self._audio_s >= stable

    def _enter(self, state: SourceState) -> SourceState | None:
        if state is self.state:
            return None
        self.state = state
        return state


def reconnect_gap_s(lost_edge: float | None, released_at: float, held_audio_s: float) -> float:
    """Broadcast time lost between two connections.

    ``lost_edge`` is when the old connection's last audio arrived: a server
    sends its newest audio, so that is where the broadcast was. The new
    connection's first ``held_audio_s`` of audio were held until
    ``released_at``; they end at the live edge "now" and start ``held_audio_s``
    earlier, however much of it was a burst of the server's past. Counting from
    the reconnect instead would push stream time ahead by every burst.
    """
    if lost_edge is None:
        return 0.0
    return max(0.0, released_at - held_audio_s - lost_edge)
