"""Undetectable.AI audio detector: presigned upload on this server, detect, query, credits, health."""

from __future__ import annotations

import math
import time
import uuid
from pathlib import Path

from aiohttp import web

from ..vendors import undetectable
from ..vendors.errors import RequestError
from ..vendors.undetectable import TaskStatus
from .analysis import analyse_task_input, media_duration_s
from .context import ServerContext
from .errors import answers_request_errors, json_body
from .quotas import NotEnabled, QuotaExceeded
from .settings import Api
from .storage import keep
from .tasks import TaskRecord, TaskState
from .uploads import receive_body

PRESIGN_PATH = "/get-presigned-url"
UPLOAD_PATH = undetectable.UPLOAD_PREFIX + "{folder}/{name}"
DETECT_PATH = "/detect"
QUERY_PATH = "/query"
CREDITS_PATH = "/check-user-credits"
HEALTH_PATH = "/health"
KIND = "undetectable"

_STATUS = {TaskState.QUEUED: TaskStatus.PENDING, TaskState.RUNNING: TaskStatus.ANALYZING}


def _principal(request: web.Request, key: str | None) -> str:
    principal = ServerContext.of(request).credentials.api_key_principal(key)
    if principal is None:
        raise RequestError("Invalid API key.", 403)
    return principal


async def _admit(ctx: ServerContext, principal: str) -> None:
    try:
        await ctx.quotas.admit(principal, Api.UNDETECTABLE)
    except NotEnabled:
        raise RequestError("This API key is not enabled for the audio detector.", 403) from None
    except QuotaExceeded:
        raise RequestError("Insufficient credits.", 403) from None


@answers_request_errors
async def presigned_url(request: web.Request) -> web.Response:
    await _admit(ServerContext.of(request), _principal(request, request.headers.get("apikey")))
    file_path = undetectable.new_file_path(undetectable.validate_file_name(request.query.get("file_name")))
    url = undetectable.presign(ServerContext.of(request).secret, f"{request.scheme}://{request.host}", file_path, time.time())
    return web.json_response(undetectable.presign_response(url, file_path))


@answers_request_errors
async def upload(request: web.Request) -> web.Response:
    """The presigned PUT target (``x-amz-acl`` is accepted and ignored)."""
    ctx = ServerContext.of(request)
    file_path = request.path.lstrip("/")
    undetectable.check_presigned(ctx.secret, file_path, request.query, time.time())
    undetectable.check_content_type(request.content_type)
    body = await receive_body(request, undetectable.MAX_UPLOAD_BYTES)
    try:
        undetectable.check_size(body.size)
    except RequestError:
        body.discard()
        raise
    keep(body.path, ctx.settings.data_dir / file_path)
    return web.Response(status=200)


@answers_request_errors
async def detect(request: web.Request) -> web.Response:
    ctx = ServerContext.of(request)
    req = undetectable.parse_detect(await json_body(request))
    principal = _principal(request, req.key)
    await _admit(ctx, principal)
    path = ctx.settings.data_dir / undetectable.file_path_of(req.url)
    if not path.is_file():
        raise RequestError("file not found: upload it to the presigned URL first", 404)
    task_id = str(uuid.uuid4())
    await ctx.tasks.submit(task_id, KIND, principal, {"path": str(path), "max_seconds": req.analyze_up_to_s})
    return web.json_response(undetectable.task_response(task_id, TaskStatus.PENDING))


@answers_request_errors
async def query(request: web.Request) -> web.Response:
    """No key: Undetectable's clients poll with the task id alone (vendor-protocols.md §4.2)."""
    task_id = undetectable.parse_query(await json_body(request))
    record = await ServerContext.of(request).tasks.store.get(task_id)
    if record is None or record.kind != KIND:
        raise RequestError("task not found", 404)
    if record.state is TaskState.DONE:
        return web.json_response(undetectable.done_response(task_id, record.result or {}))
    if record.state is TaskState.FAILED:
        return web.json_response(undetectable.failed_response(task_id, record.error or "failed"))
    return web.json_response(undetectable.task_response(task_id, _STATUS[record.state]))


@answers_request_errors
async def credits(request: web.Request) -> web.Response:
    ctx = ServerContext.of(request)
    # 1 credit = 1 s of audio analysed by a task.
    left = await ctx.quotas.remaining_s(_principal(request, request.headers.get("apikey")), Api.UNDETECTABLE)
    return web.json_response(undetectable.credits_response(math.floor(left)))


def job(ctx: ServerContext):
    """The analysis behind one detect task."""

    async def run(task: TaskRecord) -> dict:
        max_seconds = task.params["max_seconds"]
        summary = await analyse_task_input(ctx, task, max_seconds=max_seconds)
        original = summary.duration_s
        if max_seconds is not None and summary.duration_s >= max_seconds:
            original = await media_duration_s(Path(task.params["path"])) or summary.duration_s
        return undetectable.result_details(summary, original_duration_s=original, analysed_s=summary.duration_s)

    return run


def add_routes(app: web.Application, health) -> None:
    app.router.add_get(PRESIGN_PATH, presigned_url)
    app.router.add_put(UPLOAD_PATH, upload)
    app.router.add_post(DETECT_PATH, detect)
    app.router.add_post(QUERY_PATH, query)
    app.router.add_get(CREDITS_PATH, credits)
    app.router.add_get(HEALTH_PATH, health)  # Undetectable's spelling of /healthz
