"""Modulate Velma-2 AI-music batch endpoint and streaming WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import WSMsgType, web

from ..audio.source import SourceError
from ..engines.base import EngineError, StreamInfo
from ..sinks.base import Sink
from ..types import SAMPLE_RATE, Status
from ..vendors import modulate, modulate_music
from ..vendors.errors import detail_body
from ..vendors.modulate import CloseCode, ErrorText
from ..vendors.modulate_music import MusicSpeechSession
from ..vendors.modulate_stream import (
    Analyze,
    Close,
    DecodingSession,
    Finish,
    Send,
    StreamingSession,
)
from .analysis import analyse_file
from .auth import OverLimit
from .context import ServerContext
from .incremental_decode import decoder_for
from .music_speech import analyse_music_speech, routing_classifier
from .quotas import NotEnabled, QuotaExceeded, Quotas
from .settings import Api
from .uploads import MissingField, Upload, UploadTooLarge, receive_file_field

log = logging.getLogger(__name__)
#: Received frames waiting for analysis before the server stops reading the socket.
PENDING_FRAMES = 8

BATCH_PATH = "/api/velma-2-ai-music-detection-batch"
STREAM_PATH = "/api/velma-2-ai-music-detection-streaming"
MUSIC_BATCH_PATH = "/api/velma-2-music-detection-batch"
MUSIC_STREAM_PATH = "/api/velma-2-music-detection-streaming"
_UNDECODABLE = (Status.INVALID_FILE, Status.NO_AUDIO)


def _v2(request: web.Request) -> bool:
    """Opt-in dual-lane shape (protocols/README.md): ``?schema_version=2``."""
    return request.query.get("schema_version") == "2"


def _detail(status: int, text: str) -> web.Response:
    return web.json_response(detail_body(text), status=status)


#: What a batch analysis gives: the audio seconds and the body, built once the latency is known.
_Analysed = tuple[float, Callable[[float], dict]]


async def batch(request: web.Request) -> web.Response:
    ctx = ServerContext.of(request)

    async def analyse(upload: Upload) -> _Analysed | web.Response:
        summary = await analyse_file(upload.path, ctx.engine, ctx.settings.analysis)
        if summary.status in _UNDECODABLE:
            return _detail(400, ErrorText.UNPROCESSABLE)
        if summary.status is Status.ERROR:
            return _detail(500, ErrorText.INTERNAL)
        v2 = _v2(request)
        return summary.duration_s, lambda ms: modulate.batch_response(summary, filename=upload.filename, latency_ms=ms, v2=v2)

    return await _batch(request, Api.MODULATE, analyse)


async def music_batch(request: web.Request) -> web.Response:
    ctx = ServerContext.of(request)

    async def analyse(upload: Upload) -> _Analysed | web.Response:
        try:
            frames, duration_s = await analyse_music_speech(upload.path, ctx.settings.analysis.decision.silence_dbfs)
        except SourceError:
            return _detail(400, ErrorText.UNPROCESSABLE)
        return duration_s, lambda ms: modulate_music.batch_response(frames, filename=upload.filename, duration_s=duration_s, latency_ms=ms)

    return await _batch(request, Api.MODULATE_MUSIC, analyse)


async def _batch(request: web.Request, api: Api, analyse: Callable[[Upload], Awaitable[_Analysed | web.Response]]) -> web.Response:
    """Both batch APIs: ``X-API-Key``, the ``upload_file`` part, the concurrency slot and the error answers."""
    ctx = ServerContext.of(request)
    key = request.headers.get("X-API-Key")
    if key is None and not ctx.settings.open:
        return _detail(422, ErrorText.INVALID_REQUEST)
    principal = ctx.credentials.api_key_principal(key)
    if principal is None:
        return _detail(401, ErrorText.INVALID_KEY)
    started = time.perf_counter()
    try:
        await ctx.quotas.admit(principal, api)
        with ctx.credentials.slot(principal):
            upload = await receive_file_field(request, "upload_file", ctx.settings.max_upload_bytes)
            try:
                if upload.size == 0:
                    return _detail(400, ErrorText.EMPTY_FILE)
                analysed = await analyse(upload)
            finally:
                upload.discard()
    except NotEnabled:
        return _detail(403, ErrorText.NOT_ENABLED)
    except QuotaExceeded:
        return _detail(403, ErrorText.MONTHLY_LIMIT)
    except OverLimit:
        return _detail(429, ErrorText.NO_CREDITS)
    except MissingField as exc:
        return web.json_response(modulate.missing_field_body(exc.field), status=422)
    except UploadTooLarge:
        return _detail(413, "File too large. Maximum size is 100 MB.")
    if isinstance(analysed, web.Response):
        return analysed
    audio_s, build = analysed
    await ctx.quotas.charge(principal, api, audio_s)
    latency_ms = (time.perf_counter() - started) * 1000
    ctx.metrics.serve_batch(audio_s, latency_ms / 1000)
    return web.json_response(build(latency_ms))


async def stream(request: web.Request) -> web.WebSocketResponse:
    ctx = ServerContext.of(request)
    session = StreamingSession(
        ctx.settings.analysis, decoder_for, engine=ctx.engine.name, model_version=ctx.engine.model_version, v2=_v2(request)
    )
    return await _serve_stream(request, Api.MODULATE, session)


async def music_stream(request: web.Request) -> web.WebSocketResponse:
    silence_dbfs = ServerContext.of(request).settings.analysis.decision.silence_dbfs
    return await _serve_stream(request, Api.MODULATE_MUSIC, MusicSpeechSession(decoder_for, routing_classifier(silence_dbfs)))


async def _serve_stream(request: web.Request, api: Api, session: DecodingSession) -> web.WebSocketResponse:
    """Both streaming APIs: key check, concurrency slot, then the session's protocol on the socket."""
    ctx = ServerContext.of(request)
    settings = ctx.settings
    # No permessage-deflate: PCM barely compresses, and deflating every frame costs both sides CPU.
    ws = web.WebSocketResponse(heartbeat=settings.ws_ping_interval_s, max_msg_size=16 * 1024 * 1024, compress=False)
    await ws.prepare(request)
    ctx.sockets.add(ws)
    principal = ctx.credentials.api_key_principal(request.query.get("api_key"))
    if principal is None:
        await _perform(ws, session.fail(CloseCode.BAD_API_KEY, ErrorText.INVALID_KEY))
        return ws
    try:
        await ctx.quotas.admit(principal, api)
        with ctx.credentials.slot(principal):
            ctx.metrics.serve_streams_open(+1)
            try:
                await _run_stream(ws, session, ctx, _Meter(ctx.quotas, principal, api), request.query)
            finally:
                ctx.metrics.serve_streams_open(-1)
    except NotEnabled:
        await _perform(ws, session.fail(CloseCode.FORBIDDEN, ErrorText.NOT_ENABLED))
    except QuotaExceeded:
        await _perform(ws, session.fail(CloseCode.OVER_QUOTA, ErrorText.MONTHLY_LIMIT))
    except OverLimit:
        await _perform(ws, session.fail(CloseCode.OVER_QUOTA, ErrorText.NO_CREDITS))
    return ws


class _Meter:
    """Charges a stream's audio to its key as it arrives (a radio stream may never end)."""

    #: Audio between two charges: the stream overruns a spent quota by at most this.
    EVERY_FRAMES = 4 * SAMPLE_RATE

    def __init__(self, quotas: Quotas, principal: str, api: Api) -> None:
        self._quotas, self._principal, self._api = quotas, principal, api
        self._charged = 0

    async def charge(self, frames_received: int, *, final: bool = False) -> bool:
        """False when the quota is used up."""
        if not final and frames_received - self._charged < self.EVERY_FRAMES:
            return True
        frames, self._charged = frames_received - self._charged, frames_received
        return await self._quotas.charge(self._principal, self._api, frames / SAMPLE_RATE)


async def _run_stream(
    ws: web.WebSocketResponse, session: DecodingSession, ctx: ServerContext, meter: _Meter, query: Mapping[str, str]
) -> None:
    actions = session.connect(query)
    if actions:
        await _perform(ws, actions)
        return
    stream_id = ctx.next_stream_id(session.params.audio_format)
    engine_session = ctx.engine.open_session(StreamInfo(source_id=stream_id, live=True))
    # Raw PCM decodes in microseconds, so it runs on the loop; container formats feed a
    # blocking pipe to PyAV's reader thread, so they go to a worker thread. Sending every
    # frame through the pool would queue 10 frames/s per stream behind engine work.
    in_thread = not session.params.is_raw
    queue: asyncio.Queue = asyncio.Queue(PENDING_FRAMES)
    await ctx.board.on_source_state(stream_id, "running")
    worker = asyncio.create_task(_analyse(ws, session, engine_session, queue, ctx.board, stream_id))
    try:
        while not ws.closed and not worker.done():
            try:
                msg = await ws.receive(timeout=ctx.settings.ws_idle_timeout_s)
            except TimeoutError:
                await _hand_over(queue, session.fail(CloseCode.GOING_AWAY, ErrorText.IDLE), worker)
                break
            if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                step = session.receive_bytes if msg.type == WSMsgType.BINARY else session.receive_text
                args = (msg.data, time.time())
                actions = await asyncio.to_thread(step, *args) if in_thread else step(*args)
                await _hand_over(queue, actions, worker)
                if not await meter.charge(session.frames_received):
                    await _hand_over(queue, session.fail(CloseCode.OVER_QUOTA, ErrorText.MONTHLY_LIMIT), worker)
                    break
            else:  # close / error: the client left without ""
                session.client_gone()
                break
        await _hand_over(queue, None, worker)
        await worker
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        session.client_gone()
        await engine_session.aclose()
        ctx.board.forget(stream_id)
        await meter.charge(session.frames_received, final=True)


async def _hand_over(queue: asyncio.Queue, actions, worker: asyncio.Task) -> None:
    """Queue actions for the analysis worker, waiting while it is behind: a client that sends
    faster than real time is slowed by TCP backpressure instead of filling the server's memory.
    Returns early if the worker has ended (the socket closed, the engine failed)."""
    put = asyncio.ensure_future(queue.put(actions))
    await asyncio.wait({put, worker}, return_when=asyncio.FIRST_COMPLETED)
    put.cancel()


async def _analyse(ws, session: DecodingSession, engine_session, queue: asyncio.Queue, board: Sink, stream_id: str) -> None:
    """Run actions in order: windows through the engine, messages to the socket and the status page."""
    while (actions := await queue.get()) is not None:
        for action in actions:
            try:
                if isinstance(action, Analyze):
                    verdict = await engine_session.analyze(action.window)
                    verdict = dataclasses.replace(verdict, captured_at=action.window.captured_at, analysed_at=time.time())
                    await _perform(ws, session.window_analysed(verdict))
                    await board.on_window(stream_id, verdict)
                elif isinstance(action, Finish):
                    await _perform(ws, session.clip_analysed(await engine_session.finish()))
                else:
                    await _perform(ws, [action])
            except EngineError as exc:
                log.warning("engine failed on a stream: %s", exc)
                await _perform(ws, session.fail(CloseCode.INTERNAL_ERROR, ErrorText.INTERNAL))
            if ws.closed:
                return


async def _perform(ws: web.WebSocketResponse, actions) -> None:
    for action in actions:
        if ws.closed:
            return
        if isinstance(action, Send):
            with contextlib.suppress(ConnectionError):
                await ws.send_json(action.message)
        elif isinstance(action, Close):
            await ws.close(code=action.code)
