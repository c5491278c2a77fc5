"""Shared skeleton of live sources: a producer thread fills a drop-oldest buffer."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from ..types import SAMPLE_RATE, Gap, SourceEvent
from .bridge import LiveBuffer


class BufferedLiveSource(ABC):
    """Base of :class:`UrlSource` and :class:`DeviceSource`.

    Subclasses start their producer in :meth:`_start` (it pushes events into the
    buffer from any thread via :func:`~streamer.audio.bridge.post`) and stop it
    in :meth:`aclose`. The consumer never makes the producer wait.
    """

    live = True

    def __init__(self, source_id: str, *, buffer_s: float) -> None:
        self.id = source_id
        self.reconnects = 0
        self.gap_seconds = 0.0
        self._buffer_frames = round(buffer_s * SAMPLE_RATE)
        self._buffer: LiveBuffer | None = None

    @property
    def dropped_frames(self) -> int:
        return self._buffer.dropped_frames if self._buffer else 0

    async def events(self) -> AsyncIterator[SourceEvent]:
        self._buffer = LiveBuffer(self._buffer_frames)
        self._start(asyncio.get_running_loop(), self._buffer)
        try:
            async for event in self._buffer.drain():
                if isinstance(event, Gap):
                    self.gap_seconds += event.seconds
                yield event
        finally:
            await self.aclose()

    @abstractmethod
    def _start(self, loop: asyncio.AbstractEventLoop, buffer: LiveBuffer) -> None: ...

    @abstractmethod
    async def aclose(self) -> None:
        """Stop the producer (idempotent)."""
