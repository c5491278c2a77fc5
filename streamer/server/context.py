"""What every handler needs, stored once on the application."""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field

from aiohttp import web

from ..engines.base import Engine
from ..sinks.metrics import Metrics
from ..sinks.metrics import metrics as process_metrics
from ..web.status import StatusSink
from .auth import Credentials
from .quotas import Quotas, RateLimiter
from .settings import ServerSettings
from .task_runner import TaskRunner


@dataclass
class ServerContext:
    settings: ServerSettings
    engine: Engine
    credentials: Credentials
    tasks: TaskRunner
    #: HMAC key of presigned upload URLs (kept in the data directory).
    secret: bytes
    quotas: Quotas
    mippia_rate: RateLimiter
    #: The process-wide Prometheus metrics (the server's and the engine's, on one /metrics).
    metrics: Metrics = field(default_factory=lambda: process_metrics)
    #: What the live status page shows: one row per open stream.
    board: StatusSink = field(default_factory=StatusSink)
    #: Open WebSockets, closed with 1001 (going away) when the server shuts down.
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    _stream_numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    KEY = web.AppKey("aimd_server_context", object)

    def next_stream_id(self, audio_format: str) -> str:
        """A name for a stream on the status page and in logs; never the client's key."""
        return f"stream-{next(self._stream_numbers)}-{audio_format}"

    @classmethod
    def of(cls, request: web.Request) -> ServerContext:
        return request.app[cls.KEY]  # type: ignore[return-value]
