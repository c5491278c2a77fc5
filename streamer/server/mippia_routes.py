"""MIPPIA AI music detection: upload, tiered async detection tasks, polling and webhooks."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from ..vendors import mippia, pex
from ..vendors.errors import RequestError
from ..vendors.mippia import ModelTier, TaskStatus
from .analysis import analyse_task_input
from .context import ServerContext
from .errors import RateLimited, answers_request_errors, json_body
from .quotas import NotEnabled, QuotaExceeded
from .settings import Api
from .storage import keep
from .task_runner import TaskFailed
from .tasks import TaskRecord, TaskState
from .uploads import receive_file_field
from .webhooks import WebhookSender

UPLOAD_PATH = "/api/v1/music"
DETECT_PATH = "/api/v1/ai-detection/{model_name}"
RESULT_PATH = "/api/v1/task/result/{task_id}"
KIND = "mippia"
FOLDER = "mippia"

_STATUS = {TaskState.QUEUED: TaskStatus.PENDING, TaskState.RUNNING: TaskStatus.PROCESSING}
WEBHOOKS = web.AppKey("mippia_webhooks", WebhookSender)


async def _principal(request: web.Request, *, analysis: bool = False) -> str:
    """The caller, within its request rate, enabled for MIPPIA and, when it asks for an ``analysis``, within its quota."""
    ctx = ServerContext.of(request)
    principal = ctx.credentials.api_key_principal(pex.parse_bearer(request.headers.get("Authorization")))
    if principal is None:
        raise RequestError("Invalid API key.", 401)
    if not ctx.mippia_rate.allow(principal):
        raise RateLimited(ctx.mippia_rate.retry_after_s(principal))
    try:
        if analysis:
            await ctx.quotas.admit(principal, Api.MIPPIA)
        elif Api.MIPPIA not in ctx.credentials.policy(principal).apis:
            raise NotEnabled(Api.MIPPIA.value)
    except NotEnabled:
        raise RequestError("This API key is not enabled for AI detection.", 403) from None
    except QuotaExceeded:
        raise RequestError("Insufficient credits.", 403) from None
    return principal


def _music_folder(ctx: ServerContext, principal: str, music_id: str) -> Path:
    # The owner is part of the path: another key's musicId is simply not found.
    return ctx.settings.data_dir / FOLDER / principal / music_id


async def _receive_music(request: web.Request, principal: str) -> tuple[str, Path]:
    """Save the multipart ``file`` as a new music item; returns its id and stored path."""
    ctx = ServerContext.of(request)
    upload = await receive_file_field(request, "file", ctx.settings.max_upload_bytes)
    try:
        name = mippia.music_file_name(upload.filename)
        if upload.size == 0:
            raise RequestError("the uploaded file is empty")
    except RequestError:
        upload.discard()
        raise
    music_id = str(uuid.uuid4())
    return music_id, keep(upload.path, _music_folder(ctx, principal, music_id) / name)


@answers_request_errors
async def upload_music(request: web.Request) -> web.Response:
    music_id, path = await _receive_music(request, await _principal(request))
    return web.json_response(mippia.upload_response(music_id, path.stem, time.time()))


@answers_request_errors
async def detect(request: web.Request) -> web.Response:
    """JSON ``{"musicId"}`` (v1.1.1+) or, as older clients do, the multipart ``file`` itself."""
    ctx = ServerContext.of(request)
    principal = await _principal(request, analysis=True)
    try:
        tier = mippia.parse_tier(request.match_info["model_name"])
    except ValueError as exc:
        raise RequestError(str(exc), 404) from None
    if request.content_type.startswith("multipart/"):
        _, path = await _receive_music(request, principal)
    else:
        folder = _music_folder(ctx, principal, mippia.parse_music_id(await json_body(request)))
        stored = sorted(folder.iterdir()) if folder.is_dir() else []
        if not stored:
            raise RequestError("music not found", 404)
        path = stored[0]
    now = time.time()
    task_id = mippia.new_task_id(now)
    await ctx.tasks.submit(task_id, KIND, principal, {"path": str(path), "tier": tier.value})
    return web.json_response(mippia.task_created(task_id, f"uploads/{task_id}{path.suffix}", tier, now))


@answers_request_errors
async def result(request: web.Request) -> web.Response:
    principal = await _principal(request)
    record = await ServerContext.of(request).tasks.store.get(request.match_info["task_id"])
    if record is None or record.kind != KIND or record.owner != principal:
        raise RequestError("task not found", 404)
    return web.json_response(poll_body(record))


def poll_body(record: TaskRecord) -> dict[str, Any]:
    tier = ModelTier(record.params["tier"])
    if record.state is TaskState.DONE:
        return mippia.task_success(record.id, tier, record.result or {}, record.updated_at)
    if record.state is TaskState.FAILED:
        return mippia.task_failure(record.id, tier, record.error or "failed")
    return mippia.task_status(record.id, _STATUS[record.state], tier)


def job(ctx: ServerContext):
    """One tier's analysis: lite hears the first seconds only; the others the whole file."""

    async def run(task: TaskRecord) -> dict[str, Any]:
        tier = ModelTier(task.params["tier"])
        max_seconds = ctx.settings.mippia_lite_seconds if tier is ModelTier.LITE else None
        summary = await analyse_task_input(ctx, task, max_seconds=max_seconds)
        if summary.window_count == 0:  # Mippia has no answer for "too short" but a failed task
            raise TaskFailed(pex.STATUS_MESSAGES[summary.status])
        threshold = ctx.settings.analysis.decision.window_ai_threshold
        return mippia.build_result(tier, Path(task.params["path"]).name, summary, threshold)

    return run


def notify(sender: WebhookSender):
    """Webhooks go out when a task starts processing and when it ends (``pending`` is the submit answer)."""

    def on_change(record: TaskRecord) -> None:
        if record.state is not TaskState.QUEUED:
            sender.enqueue(mippia.webhook_body(poll_body(record)))

    return on_change


def add_routes(app: web.Application, ctx: ServerContext) -> None:
    app.router.add_post(UPLOAD_PATH, upload_music)
    app.router.add_post(DETECT_PATH, detect)
    app.router.add_get(RESULT_PATH, result)
    settings = ctx.settings
    if settings.mippia_webhook_url and settings.mippia_webhook_secret:
        sender = WebhookSender(settings.mippia_webhook_url, settings.mippia_webhook_secret.encode(), attempts=settings.webhook_attempts,
                               timeout_s=settings.webhook_timeout_s, backoff_s=settings.webhook_backoff_s)  # fmt: skip
        app[WEBHOOKS] = sender
        ctx.tasks.register(KIND, job(ctx), notify(sender))
        app.cleanup_ctx.append(_webhook_lifecycle)
    else:
        ctx.tasks.register(KIND, job(ctx))


async def _webhook_lifecycle(app: web.Application):
    await app[WEBHOOKS].start()
    yield
    await app[WEBHOOKS].aclose()
