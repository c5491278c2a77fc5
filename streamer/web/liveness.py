"""Tell sinks when a live source stops delivering audio, and when it is back.

Live sources (URL, sound card) deliver a block every ~0.1 s; a URL source that
lost its feed retries in its own thread and yields nothing meanwhile, and the
pipeline only announces ``running`` and ``stopped``. :class:`StallWatch` wraps
such a source and announces ``reconnecting`` after ``stall_s`` without audio,
``running`` again at the next block.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence

from ..audio.source import Source
from ..sinks.base import Sink
from ..types import SourceEvent

#: Silence from a live source longer than this means its feed is gone (blocks come every ~0.1 s).
STALL_S = 2.0


class StallWatch:
    """Implements :class:`~streamer.audio.source.Source` around a live ``source``."""

    def __init__(self, source: Source, sinks: Sequence[Sink], stall_s: float = STALL_S) -> None:
        self._source = source
        self._sinks = sinks
        self._stall_s = stall_s
        self.id = source.id
        self.live = source.live
        self._last_audio = time.monotonic()
        self._stalled = False

    async def events(self) -> AsyncIterator[SourceEvent]:
        watchdog = asyncio.create_task(self._watch(), name=f"stall-watch:{self.id}")
        try:
            async for event in self._source.events():
                self._last_audio = time.monotonic()
                if self._stalled:
                    self._stalled = False
                    await self._announce("running", "audio is back")
                yield event
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._stall_s / 4)
            silent_s = time.monotonic() - self._last_audio
            if not self._stalled and silent_s > self._stall_s:
                self._stalled = True
                await self._announce("reconnecting", f"no audio for {silent_s:.0f} s")

    async def _announce(self, state: str, detail: str) -> None:
        for sink in self._sinks:
            await sink.on_source_state(self.id, state, detail)

    async def aclose(self) -> None:
        await self._source.aclose()
