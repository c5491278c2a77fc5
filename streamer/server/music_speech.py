"""Music / speech detection for the Modulate sibling API, on the local engine's content routing."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

from ..audio.source import SourceError
from ..audio.sources import open_source
from ..engines.local.routing import measure_content
from ..types import SAMPLE_RATE, PcmBlock, Status
from ..vendors.modulate_music import Classifier, Frame, FrameCutter


def routing_classifier(silence_dbfs: float) -> Classifier:
    """Music = audible and not speech (vocal + instrumental lanes); speech = the routing's syllabic-pause share."""

    def classify(context) -> tuple[float, float]:
        content = measure_content(context, silence_dbfs)
        return (content.vocal_pct + content.instrumental_pct) / 100.0, content.speech_pct / 100.0

    return classify


async def analyse_music_speech(path: Path, silence_dbfs: float) -> tuple[list[Frame], float]:
    """Every 192 ms frame of a file, and its duration in seconds. Raises :class:`SourceError`."""
    cutter = FrameCutter(routing_classifier(silence_dbfs))
    frames: list[Frame] = []
    received = 0
    async with aclosing(open_source(str(path)).events()) as events:
        async for event in events:
            if isinstance(event, PcmBlock):
                frames += await asyncio.to_thread(cutter.feed, event)
                received += event.frames
    if received == 0:
        raise SourceError(Status.NO_AUDIO, "no audio decoded")
    return frames, received / SAMPLE_RATE
