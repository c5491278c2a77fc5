"""``aimd serve``: one aiohttp application answering the vendors' APIs with the local engine."""

from __future__ import annotations

import asyncio
import logging
import re
import signal

from aiohttp import WSCloseCode, web
from aiohttp.abc import AbstractAccessLogger

from ..engines.base import Engine
from ..engines.local.engine import LocalEngine
from ..web.app import add_metrics_route, add_status_routes, healthz
from . import mippia_routes, modulate_routes, pex_routes, undetectable_routes
from .auth import Credentials
from .context import ServerContext
from .quotas import Quotas, RateLimiter
from .settings import ServerSettings
from .storage import DATABASE_FILE, UPLOAD_FOLDERS, load_secret, remove_old_files
from .task_runner import TaskRunner
from .tasks import TaskStore

log = logging.getLogger(__name__)
#: How long in-flight HTTP requests may take to finish at shutdown.
SHUTDOWN_GRACE_S = 10.0
_SECRET_QUERY = re.compile(r"(api_key|key|signature)=[^&\s]*")


def redact(text: str) -> str:
    """Keys never reach the logs: blank the values of secret query parameters."""
    return _SECRET_QUERY.sub(r"\1=REDACTED", text)


class _RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s %s %d %.1fms', request.method, redact(request.path_qs), response.status, time * 1000)


@web.middleware
async def _count_statuses(request: web.Request, handler):
    response = await handler(request)
    ServerContext.of(request).metrics.serve_response(response.status)
    return response


def _status_reader(ctx: ServerContext):
    """The status page is read-only but shows what is being analysed: it needs an API key
    (``X-API-Key`` or ``?api_key=`` — a browser can only send the latter) unless the server runs open."""

    async def authorize(request: web.Request) -> None:
        if ctx.settings.open:
            return
        key = request.headers.get("X-API-Key") or request.query.get("api_key")
        if ctx.credentials.api_key_principal(key) is None:
            raise web.HTTPUnauthorized(text="an API key is required: open /?api_key=KEY")

    return authorize


def create_app(settings: ServerSettings, engine: Engine | None = None) -> web.Application:
    """The whole server; ``engine`` defaults to the local engine with the configured thresholds."""
    # The body limit is enforced while streaming uploads (uploads.py), not by aiohttp's buffer.
    app = web.Application(client_max_size=settings.max_upload_bytes + 1024 * 1024, middlewares=[_count_statuses])
    tasks = TaskRunner(TaskStore(settings.data_dir / DATABASE_FILE), settings.task_workers)
    credentials = Credentials(settings)
    ctx = ServerContext(
        settings, engine or LocalEngine(settings.analysis.decision), credentials, tasks, load_secret(settings.data_dir),
        Quotas(tasks.store, credentials), RateLimiter(settings.mippia_requests_per_minute),
    )  # fmt: skip
    app[ServerContext.KEY] = ctx
    tasks.register(undetectable_routes.KIND, undetectable_routes.job(ctx))
    app.router.add_get("/healthz", healthz)
    add_metrics_route(app, ctx.metrics.registry)
    add_status_routes(app, ctx.board, authorize=_status_reader(ctx))
    app.router.add_post(modulate_routes.BATCH_PATH, modulate_routes.batch)
    app.router.add_get(modulate_routes.STREAM_PATH, modulate_routes.stream)
    app.router.add_post(modulate_routes.MUSIC_BATCH_PATH, modulate_routes.music_batch)
    app.router.add_get(modulate_routes.MUSIC_STREAM_PATH, modulate_routes.music_stream)
    app.router.add_post(pex_routes.TOKEN_PATH, pex_routes.token)
    app.router.add_post(pex_routes.DETECT_PATH, pex_routes.detect)
    app.router.add_post(pex_routes.DETECT_URL_PATH, pex_routes.detect_url)
    undetectable_routes.add_routes(app, healthz)
    mippia_routes.add_routes(app, ctx)
    app.cleanup_ctx.append(_task_lifecycle)

    async def _close_engine(app: web.Application) -> None:
        await app[ServerContext.KEY].engine.aclose()

    app.on_shutdown.append(_close_sockets)
    app.on_cleanup.append(_close_engine)
    return app


async def _close_sockets(app: web.Application) -> None:
    ctx: ServerContext = app[ServerContext.KEY]  # type: ignore[assignment]
    for ws in list(ctx.sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


async def _task_lifecycle(app: web.Application):
    """Open the task store, resume what a previous run left unfinished, expire old results until shutdown."""
    ctx: ServerContext = app[ServerContext.KEY]  # type: ignore[assignment]
    await ctx.tasks.store.open()
    await ctx.tasks.resume()
    sweeper = asyncio.create_task(_sweep_forever(ctx), name="task-sweeper")
    yield
    sweeper.cancel()
    await ctx.tasks.aclose()
    await ctx.tasks.store.close()


async def _sweep_forever(ctx: ServerContext) -> None:
    settings = ctx.settings
    while True:
        expired = await ctx.tasks.expire(settings.task_ttl_s)
        files = 0
        for folder in UPLOAD_FOLDERS:
            files += await asyncio.to_thread(remove_old_files, settings.data_dir / folder, settings.task_ttl_s)
        if expired or files:
            log.info("expired %d tasks and %d uploaded files", len(expired), files)
        await asyncio.sleep(settings.task_sweep_interval_s)


async def serve(settings: ServerSettings) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly: open sockets are closed, running tasks stay resumable."""
    runner = web.AppRunner(create_app(settings), access_log_class=_RedactingAccessLogger, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
        log.info("aimd serve listening on http://%s:%d", settings.host, settings.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("aimd serve stopping")
    finally:
        await runner.cleanup()
