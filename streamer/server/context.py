"""What every handler needs, stored once on the application."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from aiohttp import web

from ..engines.base import Engine
from .auth import Credentials
from .settings import ServerSettings
from .task_runner import TaskRunner


@dataclass
class Metrics:
    streams_open: int = 0
    batch_requests: int = 0
    batch_audio_seconds: float = 0.0
    batch_latency_ms_sum: float = 0.0
    requests_by_status: dict[int, int] = field(default_factory=dict)

    def observe_batch(self, audio_s: float, latency_ms: float) -> None:
        self.batch_requests += 1
        self.batch_audio_seconds += audio_s
        self.batch_latency_ms_sum += latency_ms

    def prometheus(self) -> str:
        lines = [
            "# TYPE aimd_serve_streams_open gauge",
            f"aimd_serve_streams_open {self.streams_open}",
            "# TYPE aimd_serve_batch_requests_total counter",
            f"aimd_serve_batch_requests_total {self.batch_requests}",
            "# TYPE aimd_serve_batch_audio_seconds_total counter",
            f"aimd_serve_batch_audio_seconds_total {self.batch_audio_seconds:.3f}",
            "# TYPE aimd_serve_batch_latency_ms_sum counter",
            f"aimd_serve_batch_latency_ms_sum {self.batch_latency_ms_sum:.1f}",
            "# TYPE aimd_serve_http_responses_total counter",
        ]
        lines += [f'aimd_serve_http_responses_total{{status="{s}"}} {n}' for s, n in sorted(self.requests_by_status.items())]
        return "\n".join(lines) + "\n"


@dataclass
class ServerContext:
    settings: ServerSettings
    engine: Engine
    credentials: Credentials
    tasks: TaskRunner
    #: HMAC key of presigned upload URLs (kept in the data directory).
    secret: bytes
    metrics: Metrics = field(default_factory=Metrics)
    #: Open WebSockets, closed with 1001 (going away) when the server shuts down.
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    KEY = web.AppKey("aimd_server_context", object)

    @classmethod
    def of(cls, request: web.Request) -> ServerContext:
        return request.app[cls.KEY]  # type: ignore[return-value]
