"""The engine interface: one async session per stream.

Every engine — the local one in-process, or a remote vendor behind a
WebSocket or an HTTP API — is used the same way by the pipeline::

    session = engine.open_session(StreamInfo(source_id="radio1", live=True))
    verdict = await session.analyze(window)   # once per window, in order
    clip = await session.finish()             # end of stream
    await session.aclose()

Engines must not block the event loop: CPU work goes to a worker thread or
process, network work is async.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..types import ClipVerdict, EngineStats, Window, WindowVerdict


@dataclass(frozen=True, slots=True)
class StreamInfo:
    source_id: str
    live: bool = False
    channels: int = 1


class EngineError(Exception):
    """An engine could not produce a verdict. ``retryable`` tells the caller whether to try again."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class EngineSession(Protocol):
    async def analyze(self, window: Window) -> WindowVerdict:
        """Judge one window. Windows arrive in stream order."""
        ...

    async def finish(self) -> ClipVerdict:
        """Judge everything seen so far; called once, after the last window."""
        ...

    async def aclose(self) -> None:
        """Release the session's resources (idempotent)."""
        ...


@runtime_checkable
class DeferredSession(Protocol):
    """Optional, for clip engines whose vendor judges many windows at once, later.

    The pipeline then calls ``submit`` instead of ``analyze``, and ``flush``
    after the last window. Both return the verdicts that are ready — for this
    or earlier windows, in stream order, each already stamped with its own
    window's ``captured_at`` and ``gap_before_s``; ``flush`` returns all the rest.
    """

    async def submit(self, window: Window) -> list[WindowVerdict]: ...

    async def flush(self) -> list[WindowVerdict]: ...


@runtime_checkable
class StatsSession(Protocol):
    """Optional, for engines whose requests cost something (the remote vendors).

    ``stats`` is a snapshot of the session's requests so far; the pipeline
    hands it to the sinks that show it (the per-source MQTT and status page).
    """

    @property
    def stats(self) -> EngineStats: ...


class Engine(Protocol):
    #: Short name reported in results (``local``, ``modulate``, ``pex`` …).
    name: str
    #: Version of the model behind the engine, reported in results.
    model_version: str

    def open_session(self, info: StreamInfo) -> EngineSession: ...

    async def aclose(self) -> None: ...
