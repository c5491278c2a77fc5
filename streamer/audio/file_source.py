"""Local files (and finite URLs): decoded as fast as the consumer takes them, or paced in real time."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

from ..types import SAMPLE_RATE, SourceEvent, Status
from .bridge import iterate_in_thread
from .decode import DecodeStats, decode_file, is_network
from .resample import Resampler
from .source import SourceError


class FileSource:
    """Decode one input to its end.

    With ``realtime=True`` blocks are released when their audio would have
    finished playing (stream time against the monotonic clock), which makes a
    file behave like a live feed for demos and latency tests.
    """

    dropped_frames = 0
    reconnects = 0
    gap_seconds = 0.0

    def __init__(self, path: str | Path, *, realtime: bool = False) -> None:
        self.path = str(path)
        if not is_network(self.path) and not Path(self.path).exists():
            raise SourceError(Status.NOT_FOUND, f"{self.path}: no such file")
        self.id = self.path
        self.realtime = realtime
        self.live = realtime
        self.stats = DecodeStats()

    async def events(self) -> AsyncIterator[SourceEvent]:
        resampler = Resampler()
        # Small blocks when paced, so a "live" file ticks smoothly; big ones otherwise, for throughput.
        chunk_s = 0.1 if self.realtime else 0.5
        blocks = iterate_in_thread(lambda: decode_file(self.path, resampler, self.stats, chunk_s=chunk_s))
        started = time.monotonic()
        async with aclosing(blocks):
            async for block in blocks:
                if self.realtime:
                    await asyncio.sleep(max(0.0, started + block.end_frame / SAMPLE_RATE - time.monotonic()))
                    block = dataclasses.replace(block, captured_at=time.time())
                yield block

    async def aclose(self) -> None:
        """Nothing to release: the decoder thread stops when :meth:`events` is closed."""
