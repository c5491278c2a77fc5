"""Supervised sources against a real Icecast fed by ffmpeg: outages, stalls, 404s, silent peers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import audio_fixtures as fx
import pytest
from icecast import Icecast, Station

from streamer.service.config import ServiceConfig, SupervisionSettings
from streamer.service.inputs import open_input
from streamer.service.machine import SourceState
from streamer.service.supervised import SupervisedSource
from streamer.types import SAMPLE_RATE, Gap, PcmBlock, SourceEvent

FAST = SupervisionSettings(
    backoff_base_s=0.2, backoff_cap_s=0.5, watchdog_s=1.5, stable_s=1.0, circuit_failures=100, circuit_open_s=1.0,
    start_jitter_s=0,
)


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fx.encode(tmp_path_factory.mktemp("songs") / "song.mp3", fx.music(6.0), 44100, "mp3")


@pytest.fixture
def icecast(tmp_path: Path) -> Iterator[Icecast]:
    with Icecast(tmp_path) as server:
        yield server


@dataclass
class Run:
    """A supervised source being read in the background, with what it said and when."""

    source: SupervisedSource
    states: list[tuple[float, SourceState]] = field(default_factory=list)
    events: list[SourceEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def wait_state(self, state: SourceState, timeout: float, after: int = 0) -> float:
        """Monotonic time at which ``state`` was first entered (at index ≥ ``after``)."""
        deadline = time.monotonic() + timeout
        while True:
            hits = [at for at, s in self.states[after:] if s is state]
            if hits:
                return hits[0]
            assert time.monotonic() < deadline, f"no {state} within {timeout} s; states: {self.states}"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def supervise(url: str, policy: SupervisionSettings = FAST, kind: str = "url") -> Run:
    config = ServiceConfig.model_validate(
        {"sources": [{"id": "radio", "type": kind, "url": url}], "defaults": {"supervision": policy.model_dump()}}
    )
    run = Run(source=None)  # type: ignore[arg-type]

    async def on_state(source_id: str, state: str, detail: str) -> None:
        run.states.append((time.monotonic(), SourceState(state)))

    run.source = SupervisedSource.configured(
        config.resolve(config.sources[0]), on_state, opener=lambda c: open_input(c, timeout_s=2.0)
    )

    async def read() -> None:
        async for event in run.source.events():
            run.events.append(event)

    run.task = asyncio.create_task(read())
    return run


def assert_continuous(events: list[SourceEvent]) -> None:
    frame = 0
    for event in events:
        assert event.start_frame == frame, "stream time must run on without jumps or overlaps"
        frame += event.frames


def audio_seconds(events: list[SourceEvent]) -> float:
    return sum(e.frames for e in events if isinstance(e, PcmBlock)) / SAMPLE_RATE


async def test_killed_feeder_reconnects_within_5_s_and_reports_the_gap(icecast: Icecast, song: Path) -> None:
    station = await asyncio.to_thread(icecast.feed, "radio.mp3", song)
    run = await supervise(station.url)
    try:
        await run.wait_state(SourceState.RUNNING, 10)
        await asyncio.sleep(1.5)
        lost_at = time.monotonic()
        await asyncio.to_thread(station.stop)
        await run.wait_state(SourceState.RECONNECTING, 5)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(station.start)
        back_at = time.monotonic()
        running_again = await run.wait_state(SourceState.RUNNING, 8, after=2)
        assert running_again - back_at <= 5.0
        await asyncio.sleep(1.0)
    finally:
        await run.stop()
    gaps = [e for e in run.events if isinstance(e, Gap)]
    assert [g.reason for g in gaps] == ["reconnect"]
    outage = back_at - lost_at
    # The lost broadcast time: at least the 2 s the mount was gone, at most the outage plus the reconnect.
    assert 1.5 <= gaps[0].seconds <= outage + 5.0
    assert run.source.reconnects == 1 and run.source.gap_seconds == pytest.approx(gaps[0].seconds)
    assert_continuous(run.events)
    assert [s for _, s in run.states] == [
        SourceState.STARTING, SourceState.RUNNING, SourceState.RECONNECTING, SourceState.RUNNING,
    ]  # fmt: skip


async def test_paused_feeder_trips_the_watchdog(icecast: Icecast, song: Path) -> None:
    station: Station = await asyncio.to_thread(icecast.feed, "paused.mp3", song)
    run = await supervise(station.url)
    try:
        await run.wait_state(SourceState.RUNNING, 10)
        await asyncio.sleep(1.0)
        station.pause()  # the mount stays up (Icecast's own timeout is 10 s): only our watchdog can tell
        paused_at = time.monotonic()
        tripped = await run.wait_state(SourceState.RECONNECTING, 10)
        # The burst on connect is covered audio: the watchdog fires when it runs out, plus watchdog_s.
        assert tripped - paused_at <= FAST.watchdog_s + 4.0
        station.resume()
        await run.wait_state(SourceState.RUNNING, 8, after=2)
    finally:
        await run.stop()
    assert_continuous(run.events)


async def test_missing_mount_backs_off_then_opens_the_circuit(icecast: Icecast) -> None:
    policy = FAST.model_copy(update={"circuit_failures": 3, "circuit_open_s": 30.0})
    run = await supervise(f"http://127.0.0.1:{icecast.port}/nothing-here.mp3", policy)
    try:
        await run.wait_state(SourceState.CIRCUIT_OPEN, 10)
    finally:
        await run.stop()
    assert [s for _, s in run.states] == [SourceState.STARTING, SourceState.RECONNECTING, SourceState.CIRCUIT_OPEN]
    assert run.source.machine.failures == 3 and run.events == []


async def test_a_peer_that_never_answers_is_caught_by_the_watchdog() -> None:
    with socket.socket() as silent:  # accepts TCP connections (backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        started = time.monotonic()
        run = await supervise(f"http://127.0.0.1:{silent.getsockname()[1]}/radio.mp3")
        try:
            failed_at = await run.wait_state(SourceState.RECONNECTING, 10)
        finally:
            await run.stop()
    assert failed_at - started <= FAST.watchdog_s + 1.0


async def test_station_switching_codec_and_rate_keeps_one_stream(icecast: Icecast, tmp_path: Path, song: Path) -> None:
    vorbis = fx.encode(tmp_path / "other.ogg", fx.music(6.0, rate=48000, seed=3), 48000, "ogg")
    station = await asyncio.to_thread(icecast.feed, "switch", song)
    run = await supervise(station.url)
    try:
        await run.wait_state(SourceState.RUNNING, 10)
        await asyncio.sleep(1.0)
        heard_mp3 = audio_seconds(run.events)
        await asyncio.to_thread(station.stop)  # the station restarts as Ogg Vorbis at 48 kHz
        station.audio, station.content_type = vorbis, "application/ogg"
        await asyncio.to_thread(station.start)
        await run.wait_state(SourceState.RUNNING, 8, after=2)
        await asyncio.sleep(2.0)
    finally:
        await run.stop()
    assert audio_seconds(run.events) >= heard_mp3 + 1.5  # the new codec decodes, at the canonical rate
    assert {e.samples.shape[1] for e in run.events if isinstance(e, PcmBlock)} == {2}
    assert_continuous(run.events)
