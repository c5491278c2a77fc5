"""A source that never ends by itself: connects, watches and reconnects its input.

:class:`SupervisedSource` is the I/O loop around the pure
:class:`~streamer.service.machine.SourceMachine`. To the pipeline it is one
ordinary :class:`~streamer.audio.source.Source` whose stream time runs on
across reconnects: every reconnect becomes one ``Gap("reconnect")`` the size
of the broadcast time that was lost, so windows carry the gap and the summary
counts the lost seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import numpy as np

from ..audio.resample import downmix
from ..audio.source import Source, SourceError
from ..types import SAMPLE_RATE, Gap, PcmBlock, SourceEvent
from .config import ResolvedSource, SourceConfig, SourceType, SupervisionSettings
from .inputs import is_endless, open_input
from .machine import SourceMachine, SourceState, reconnect_gap_s

log = logging.getLogger(__name__)

#: After a reconnect, audio is held this long so a burst of the server's past can be measured.
SETTLE_S = 0.5
#: At most one "over budget" warning per source in this many seconds.
OVERFLOW_WARNING_EVERY_S = 60.0

StateCallback = Callable[[str, SourceState, str], Awaitable[None]]


class _Lost(Exception):
    """The current connection is over (why: the message)."""


class SupervisedSource:
    """Implements :class:`Source` and :class:`SourceHealth` around one input, reconnecting it as needed.

    ``connect`` opens a fresh inner source for each connection attempt (with no retries of
    its own). ``endless``: its end is a failure to recover from (radio, sound card), not the
    end of the work (a file). ``live``: it runs at real time, so the watchdog applies.
    """

    def __init__(
        self,
        source_id: str,
        connect: Callable[[], Source],
        on_state: StateCallback,
        *,
        endless: bool,
        live: bool,
        supervision: SupervisionSettings,
        gain_db: float = 0.0,
        channels: Literal[1, 2] | None = None,
        settle_s: float = SETTLE_S,
        must_connect_first: bool = False,
    ) -> None:
        self.id = source_id
        self.live = live
        self.machine = SourceMachine(supervision)
        self.reconnects = 0
        self.gap_seconds = 0.0
        self._endless = endless
        self._must_connect_first = must_connect_first
        self._gain = np.float32(10 ** (gain_db / 20))
        self._channels = channels
        self._on_state = on_state
        self._connect = connect
        self._settle_s = settle_s
        self._dropped_before = 0  # dropped_frames of finished connections
        self._inner: Source | None = None
        self._next_frame = 0
        self._offset: int | None = None  # inner stream frame → ours, for the current connection
        self._overflow_warned_at = -OVERFLOW_WARNING_EVERY_S
        self._stop = asyncio.Event()

    @classmethod
    def configured(
        cls,
        resolved: ResolvedSource,
        on_state: StateCallback,
        *,
        opener: Callable[[SourceConfig], Source] = open_input,
        settle_s: float = SETTLE_S,
    ) -> SupervisedSource:
        """The supervised source of one entry of the service config."""
        config = resolved.source
        return cls(
            config.id,
            functools.partial(opener, config),
            on_state,
            endless=is_endless(config),
            live=is_endless(config) or (config.type is SourceType.FILE and config.realtime),
            supervision=resolved.supervision,
            gain_db=resolved.gain_db,
            channels=resolved.channels,
            settle_s=settle_s,
        )

    @property
    def dropped_frames(self) -> int:
        return self._dropped_before + int(getattr(self._inner, "dropped_frames", 0))

    async def events(self) -> AsyncIterator[SourceEvent]:
        loop = asyncio.get_running_loop()
        await self._on_state(self.id, SourceState.STARTING, "")
        if self.live and await self._stopped_within(self.machine.start_delay()):
            return
        while True:
            self.machine.attempt(loop.time())
            try:
                async for event in self._connection(loop):
                    yield event
                return  # a file or a finite stream ended: the work is done
            except (_Lost, SourceError) as exc:
                never_ran = self.machine.last_audio_at is None
                if not self._endless or (self._must_connect_first and never_ran and isinstance(exc, SourceError)):
                    raise
                reason = exc.message if isinstance(exc, SourceError) else str(exc)
            retry = self.machine.failed()
            detail = f"{reason} (attempt {retry.failures}, next in {retry.delay_s:.1f} s)"
            if retry.changed:
                log.warning("%s: %s: %s", self.id, retry.state.value, detail, extra=self._log_extra)
                await self._on_state(self.id, retry.state, reason)
            else:
                log.debug("%s: still %s: %s", self.id, retry.state.value, detail, extra=self._log_extra)
            if await self._stopped_within(retry.delay_s):
                return

    def request_stop(self) -> None:
        """End :meth:`events` at the next event boundary, so everything already read gets analysed."""
        self._stop.set()

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    @property
    def _log_extra(self) -> dict[str, str]:
        return {"source": self.id, "state": self.machine.state.value}

    async def _connection(self, loop: asyncio.AbstractEventLoop) -> AsyncIterator[SourceEvent]:
        """Yield one connection's events in our stream time; raise :class:`_Lost` when it dies.

        After a reconnect the first events are held for ``settle_s`` so the gap
        can be sized net of the server's burst (:func:`reconnect_gap_s`).
        """
        inner = self._inner = self._connect()
        self._offset = None
        lost_edge = self.machine.last_audio_at
        holding = lost_edge is not None
        held: list[SourceEvent] = []
        release_at = float("inf")
        events = aiter(inner.events())
        pending: asyncio.Future[SourceEvent] | None = None
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                if holding and loop.time() >= release_at:
                    for event in self._release(held, lost_edge, loop.time()):
                        yield event
                    holding = False
                pending = pending or asyncio.ensure_future(anext(events))
                timeout = None
                if self.live:  # sources read as fast as possible (files, pipes) have no deadline
                    deadline = min(release_at if holding else float("inf"), self.machine.watchdog_deadline())
                    timeout = max(0.0, deadline - loop.time())
                done, _ = await asyncio.wait({pending, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if stop in done:
                    break
                if not done:
                    if holding and loop.time() >= release_at:
                        continue
                    raise _Lost(f"no audio for {self.machine.policy.watchdog_s:g} s (watchdog)")
                future, pending = pending, None
                try:
                    event = future.result()
                except StopAsyncIteration:
                    if holding:
                        for event in self._release(held, lost_edge, loop.time()):
                            yield event
                    if self._endless and not getattr(getattr(inner, "stats", None), "finite", False):
                        raise _Lost("stream ended") from None
                    return
                if isinstance(event, PcmBlock) and self.machine.audio(loop.time(), event.frames / SAMPLE_RATE):
                    log.info("%s: running", self.id, extra=self._log_extra)
                    await self._on_state(self.id, SourceState.RUNNING, "")
                if not holding:
                    yield self._renumber(event)
                    continue
                if not held:
                    release_at = loop.time() + self._settle_s
                held.append(event)
            for event in self._release(held, lost_edge, loop.time()) if holding else ():
                yield event  # stopping while a reconnect was settling: keep what arrived
        finally:
            stop.cancel()
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]
            self._dropped_before += int(getattr(inner, "dropped_frames", 0))
            with contextlib.suppress(Exception):
                await inner.aclose()
            self._inner = None

    def _release(self, held: list[SourceEvent], lost_edge: float | None, now: float) -> list[SourceEvent]:
        """The reconnect gap, then the held audio right after it (nothing while nothing arrived)."""
        if not held:
            return []
        held_s = sum(e.frames for e in held if isinstance(e, PcmBlock)) / SAMPLE_RATE
        gap = round(reconnect_gap_s(lost_edge, now, held_s) * SAMPLE_RATE)
        self.reconnects += 1
        out: list[SourceEvent] = []
        if gap:
            out.append(Gap(self._next_frame, gap, "reconnect"))
            self.gap_seconds += gap / SAMPLE_RATE
            self._next_frame += gap
        out += [self._renumber(e) for e in held]
        held.clear()
        return out

    def _renumber(self, event: SourceEvent) -> SourceEvent:
        """Move an inner event onto our continuous stream time, with gain and channels applied."""
        if self._offset is None:  # first event of a connection: it starts where we are
            self._offset = self._next_frame - event.start_frame
        start = event.start_frame + self._offset
        self._next_frame = start + event.frames
        if isinstance(event, Gap):
            self.gap_seconds += event.seconds
            self._warn_overflow(event)
            return Gap(start, event.frames, event.reason)
        samples = event.samples
        if self._channels == 1:
            samples = downmix(samples, 1)
        if self._gain != 1:
            samples = samples * self._gain
        return PcmBlock(start, samples, event.captured_at)

    def _warn_overflow(self, gap: Gap) -> None:
        now = time.monotonic()
        if gap.reason == "overflow" and now - self._overflow_warned_at >= OVERFLOW_WARNING_EVERY_S:
            self._overflow_warned_at = now
            log.warning("%s: analysis is behind real time, dropped %.1f s of audio", self.id, gap.seconds,
                        extra=self._log_extra)
