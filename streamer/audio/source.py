"""What every audio source promises the pipeline.

A source yields :class:`~streamer.types.PcmBlock` and :class:`~streamer.types.Gap`
events in stream order, already resampled to :data:`~streamer.types.SAMPLE_RATE`
with 1 or 2 channels (fixed for the life of the source).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ..types import SourceEvent, Status


class SourceError(Exception):
    """The input cannot be analysed. ``status`` is the Pex status it earns."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Source(Protocol):
    #: Identifier used in results, topics and metrics.
    id: str
    #: Live sources (sound cards, radio) must never block: when the consumer
    #: falls behind, the oldest audio is dropped and counted. Non-live sources
    #: (files read as fast as possible) wait for the consumer instead.
    live: bool

    def events(self) -> AsyncIterator[SourceEvent]:
        """Yield blocks and gaps until the source ends. Raises :class:`SourceError`."""
        ...

    async def aclose(self) -> None: ...


class SourceHealth(Protocol):
    """Counters every concrete source keeps, for metrics and summaries.

    They stay zero for sources that cannot lose audio (files, pipes).
    """

    #: Audio frames (at SAMPLE_RATE) discarded because the consumer fell behind.
    dropped_frames: int
    #: Successful reconnects after the first connection.
    reconnects: int
    #: Stream time covered by the Gap events emitted so far.
    gap_seconds: float
