"""The HTTP side of ``aimd run``: status page, Server-Sent Events, Prometheus /metrics and /healthz on one port.

:func:`add_status_routes` mounts the page on any aiohttp app (``aimd serve``
adds it to its API app, behind its authentication); :func:`start_web_server`
runs the standalone app of ``aimd run``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib.resources import files

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .status import StatusSink

#: Checks a request and raises an aiohttp HTTP error to refuse it (the API's authentication).
Authorize = Callable[[web.Request], Awaitable[None]]
_STATIC = files(__package__) / "static"
#: Only this origin's script and styles run on the page.
_HEADERS = {"Content-Security-Policy": "default-src 'self'", "Cache-Control": "no-cache"}
_BOARD = web.AppKey("status_board", StatusSink)


def add_status_routes(app: web.Application, board: StatusSink, authorize: Authorize | None = None) -> None:
    """Serve ``/`` (page), ``/status.js``, ``/status.css`` and ``/events`` (SSE) from ``board``."""
    app[_BOARD] = board

    def guarded(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        async def run(request: web.Request) -> web.StreamResponse:
            if authorize is not None:
                await authorize(request)
            return await handler(request)

        return run

    for name, content_type in (("index.html", "text/html"), ("status.js", "text/javascript"), ("status.css", "text/css")):
        app.router.add_get("/" if name == "index.html" else f"/{name}", guarded(_static(name, content_type)))
    app.router.add_get("/events", guarded(_events))

    async def end_event_streams(app: web.Application) -> None:
        board.close_subscribers()

    app.on_shutdown.append(end_event_streams)


def _static(name: str, content_type: str):
    body = (_STATIC / name).read_bytes()  # read once: the files are small and never change at run time

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=_HEADERS)

    return handler


async def _events(request: web.Request) -> web.StreamResponse:
    board = request.app[_BOARD]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **_HEADERS})
    await response.prepare(request)
    subscription = board.subscribe()
    try:
        async for kind, data in subscription:
            await response.write(f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode())
    except (ConnectionResetError, ConnectionError):
        pass  # the browser went away
    finally:
        board.unsubscribe(subscription)
    return response


async def healthz(request: web.Request) -> web.Response:
    """Liveness for container health checks and load balancers."""
    return web.json_response({"status": "ok"})


def add_metrics_route(app: web.Application, registry: CollectorRegistry) -> None:
    """Serve ``registry`` on ``/metrics`` in Prometheus' text format."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)


def create_web_app(board: StatusSink, registry: CollectorRegistry) -> web.Application:
    """The standalone app of ``aimd run``: the status page plus ``/metrics`` and ``/healthz``."""
    app = web.Application()
    add_status_routes(app, board)
    add_metrics_route(app, registry)
    app.router.add_get("/healthz", healthz)
    return app


async def start_web_server(host: str, port: int, board: StatusSink, registry: CollectorRegistry) -> web.AppRunner:
    """Listen on ``host:port`` (``port=0``: any free port, see :func:`bound_port`); stop with ``runner.cleanup()``.

    Raises ``OSError`` when the address is taken.
    """
    runner = web.AppRunner(create_web_app(board, registry), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]
