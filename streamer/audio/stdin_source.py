"""Raw PCM piped on standard input (``arecord … | aimd -``)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Generator
from contextlib import aclosing
from typing import BinaryIO

from ..types import PcmBlock, SourceEvent, Status
from .bridge import iterate_in_thread
from .rawpcm import RawPcmDecoder
from .resample import Resampler
from .source import SourceError

#: Upper bound of one read: ~0.2-0.4 s of typical PCM, so blocks stay small on fast pipes.
READ_BYTES = 1 << 16


class StdinSource:
    """Decode raw PCM from a byte stream (``sys.stdin.buffer`` by default).

    A pipe has its own backpressure — a writer that outruns us simply waits —
    so nothing is dropped and the source is not ``live`` in the pipeline's sense.
    """

    live = False
    dropped_frames = 0
    reconnects = 0
    gap_seconds = 0.0

    def __init__(self, fmt: str, rate: int, channels: int, *, stream: BinaryIO | None = None) -> None:
        try:
            self._decoder = RawPcmDecoder(fmt, rate, channels)
        except ValueError as exc:
            raise SourceError(Status.INVALID_FILE, f"stdin: {exc}") from exc
        self._stream = stream
        self.id = "stdin"

    async def events(self) -> AsyncIterator[SourceEvent]:
        blocks = iterate_in_thread(self._blocks, name="aimd-stdin")
        async with aclosing(blocks):
            async for block in blocks:
                yield block

    def _blocks(self) -> Generator[PcmBlock, None, None]:
        stream = self._stream or sys.stdin.buffer
        read = getattr(stream, "read1", stream.read)  # read1: whatever has arrived, don't wait to fill
        resampler = Resampler()
        while chunk := read(READ_BYTES):
            samples = self._decoder.feed(chunk)
            if samples.shape[0] and (block := resampler.process(samples, self._decoder.rate)):
                yield block
        if tail := resampler.flush():
            yield tail

    async def aclose(self) -> None:
        """Nothing to release: the reader thread stops when :meth:`events` is closed."""
