"""Run one uploaded file through the pipeline (``analyse_stream``), off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import av

from ..audio.decode import open_media
from ..audio.source import Source, SourceError
from ..audio.sources import open_source
from ..config import AnalysisSettings
from ..engines.base import Engine
from ..pipeline import analyse_stream
from ..types import SAMPLE_RATE, PcmBlock, SourceEvent, Status, StreamSummary
from ..vendors.pex import STATUS_MESSAGES
from .context import ServerContext
from .settings import Api
from .task_runner import TaskFailed
from .tasks import TaskRecord

#: Outcomes where the input is not analysable audio at all: an async task fails on them.
_UNANALYSABLE = (Status.INVALID_FILE, Status.NO_AUDIO, Status.NOT_FOUND, Status.ERROR)


def unanalysable(summary: StreamSummary) -> str | None:
    """Why a task on this input must fail (Pex's wording, free of server paths), or None."""
    return STATUS_MESSAGES[summary.status] if summary.status in _UNANALYSABLE else None


class _FirstSeconds:
    """A source cut after ``seconds`` of stream time (Undetectable's ``analyzeUpToSeconds``, Mippia lite)."""

    def __init__(self, inner: Source, seconds: float) -> None:
        self.id = inner.id
        self.live = inner.live
        self._inner = inner
        self._end_frame = round(seconds * SAMPLE_RATE)

    async def events(self) -> AsyncIterator[SourceEvent]:
        async with aclosing(self._inner.events()) as events:
            async for event in events:
                if isinstance(event, PcmBlock) and event.end_frame > self._end_frame:
                    keep = self._end_frame - event.start_frame
                    if keep > 0:
                        yield PcmBlock(event.start_frame, event.samples[:keep], event.captured_at)
                    return
                yield event

    async def aclose(self) -> None:
        await self._inner.aclose()


async def media_duration_s(path: Path) -> float | None:
    """The length a file declares (None if it declares none or cannot be opened)."""

    def probe() -> float | None:
        try:
            with open_media(str(path)) as container:
                stream = container.streams.audio[0]
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
                return container.duration / av.time_base if container.duration is not None else None
        except SourceError:
            return None

    return await asyncio.to_thread(probe)


async def analyse_file(path: Path, engine: Engine, settings: AnalysisSettings, *, max_seconds: float | None = None) -> StreamSummary:
    """The file's summary with its windows; undecodable input comes back as a summary status, not an exception."""
    source: Source = open_source(str(path))
    if max_seconds is not None:
        source = _FirstSeconds(source, max_seconds)
    return await analyse_stream(source, engine, settings, keep_windows=True, file_input=True)


async def analyse_task_input(ctx: ServerContext, task: TaskRecord, *, max_seconds: float | None = None) -> StreamSummary:
    """An async task's analysis: its stored input, charged to the task's owner; unanalysable input fails the task."""
    path = Path(task.params["path"])
    if not path.is_file():
        raise TaskFailed("the uploaded file is gone")
    summary = await analyse_file(path, ctx.engine, ctx.settings.analysis, max_seconds=max_seconds)
    if failure := unanalysable(summary):
        raise TaskFailed(failure)
    await ctx.quotas.charge(task.owner, Api(task.kind), summary.duration_s)
    return summary
