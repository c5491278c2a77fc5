"""MIPPIA results by webhook: the receiver's answers (sans I/O), the receiver over HTTP, and the mippia
engine against the real ``aimd serve`` with the engine's URL registered as its callback URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import aiohttp
import pytest
from audio_fixtures import music
from test_remote_support import ArraySource, StatsSink
from server_app import running_server
from services import free_port

from streamer.config import AnalysisSettings
from streamer.engines import create_engine
from streamer.engines.remote import RemoteEngineSettings, mippia_receiver
from streamer.engines.remote.mippia_webhook import answer
from streamer.pipeline import analyse_stream
from streamer.server.settings import ServerSettings
from streamer.types import EngineStats, Status, StreamSummary
from streamer.vendors import mippia

SECRET = b"whsec-engine"
KEY = "hook-key"
TASK = "task_20251204052920_J8uNdq5z"
#: The docs' callback bodies (vendor-protocols.md §3.3), as aimd serve sends them (plus the taskId alias).
PROCESSING = {"task_id": TASK, "taskId": TASK, "status": "processing", "result": None, "model_type": "standard"}
SUCCESS = {"task_id": TASK, "taskId": TASK, "status": "success", "model_type": "standard", "completed_at": "2025-12-04T05:30:15Z",
           "result": {"audio_filename.mp3": {"final_result": {"prediction": "real", "confidence": 0.9382}, "model_results": []}}}  # fmt: skip


def _post(body: dict, secret: bytes = SECRET, signed_at: float | None = None):
    """What the receiver (secret ``SECRET``) answers ``body`` signed with ``secret`` (b"": unsigned)."""
    headers = mippia.webhook_headers(secret, body.get("task_id", ""), signed_at) if secret else {}
    return answer(SECRET, json.dumps(body).encode(), headers, time.time())


def test_the_challenge_is_echoed_and_bad_bodies_are_refused():
    challenge = answer(SECRET, b'{"challenge":"c0de","type":"url_verification"}', {}, time.time())
    assert (challenge.status, challenge.body, challenge.result) == (200, {"challenge": "c0de"}, None)
    for garbage in (b"{not json", b"\xff\xfe", b"[" * 100_000):
        assert answer(SECRET, garbage, {}, time.time()).status == 400
    assert answer(SECRET, b"[1]", {}, time.time()).status == 400
    assert answer(SECRET, b'{"type":"url_verification"}', {}, time.time()).status == 400
    assert _post({"status": "success"}).status == 400  # no task_id to check the signature against


def test_only_fresh_correctly_signed_final_updates_deliver_a_result():
    assert _post(SUCCESS).result == (TASK, SUCCESS)
    assert _post(PROCESSING).status == 200 and _post(PROCESSING).result is None  # acknowledged, nothing to resolve
    forged, stale, unsigned = _post(SUCCESS, secret=b"guess"), _post(SUCCESS, signed_at=time.time() - 301), _post(SUCCESS, secret=b"")
    for refused in (forged, stale, unsigned):
        assert refused.status == 401 and refused.result is None


def test_webhook_settings_are_checked_at_start_up():
    with pytest.raises(ValueError, match="HOST:PORT"):
        RemoteEngineSettings(mippia_webhook_listen="8787")
    with pytest.raises(ValueError, match="http"):
        RemoteEngineSettings(mippia_webhook_url="ftp://example.com/hook")
    no_secret = RemoteEngineSettings(api_key="k", mippia_webhook_url="https://example.com/hook")
    with pytest.raises(ValueError, match="AIMD_MIPPIA_WEBHOOK_SECRET"):
        create_engine(AnalysisSettings(engine="mippia"), no_secret)


async def test_the_receiver_resolves_tasks_from_signed_webhooks_only():
    port = free_port()
    receiver = mippia_receiver.acquire("127.0.0.1", port, "/hook", SECRET)
    try:
        with pytest.raises(ValueError, match="one callback URL"):
            mippia_receiver.acquire("127.0.0.1", port, "/other", SECRET)
        await receiver.start()
        url = f"http://127.0.0.1:{port}/hook"
        async with aiohttp.ClientSession() as http:
            with receiver.expect(TASK) as delivered:
                forged = mippia.webhook_headers(b"guess", TASK)
                async with http.post(url, json=SUCCESS, headers=forged) as resp:
                    assert resp.status == 401 and not delivered.done()
                async with http.post(url, json=SUCCESS, headers=mippia.webhook_headers(SECRET, TASK)) as resp:
                    assert resp.status == 200 and delivered.result() == SUCCESS
            # A result that arrives before anyone waits for it (the webhook beat the submit answer) is kept.
            early = {**SUCCESS, "task_id": "task_early"}
            async with http.post(url, json=early, headers=mippia.webhook_headers(SECRET, "task_early")) as resp:
                assert resp.status == 200
            with receiver.expect("task_early") as delivered:
                assert delivered.result() == early
    finally:
        await mippia_receiver.release(receiver)
    with socket.create_server(("127.0.0.1", 0)) as taken, pytest.raises(ValueError, match="cannot listen"):
        mippia_receiver.acquire("127.0.0.1", taken.getsockname()[1], "/hook", SECRET)


async def _judge_26_s(tmp_path, hook_port: int, registered_url: str, webhook_wait_s: float) -> tuple[StreamSummary, EngineStats]:
    """26 s of music (two 12 s clips) through a mippia engine receiving webhooks on ``hook_port``, to an
    ``aimd serve`` whose callback URL — MIPPIA's dashboard setting — is ``registered_url``.

    The engine is built (its socket bound) before the server starts: the server sends the registration
    challenge at start-up, as MIPPIA does when the URL is entered in its dashboard.
    """
    server_port = free_port()
    analysis = AnalysisSettings(engine="mippia")
    remote = RemoteEngineSettings(url=f"http://127.0.0.1:{server_port}", api_key=KEY, clip_s=12, poll_interval_s=0.1,
                                  mippia_webhook_url=f"http://127.0.0.1:{hook_port}/mippia", mippia_webhook_listen=f"127.0.0.1:{hook_port}",
                                  mippia_webhook_secret=SECRET.decode(), webhook_wait_s=webhook_wait_s)  # fmt: skip
    engine = create_engine(analysis, remote)
    settings = ServerSettings(port=server_port, api_keys=(KEY,), data_dir=tmp_path, mippia_webhook_url=registered_url,
                              mippia_webhook_secret=SECRET.decode(), webhook_backoff_s=0.05)  # fmt: skip
    stats = StatsSink()
    with contextlib.ExitStack() as server:  # the server's own loop starts and stops in a thread of its own
        await asyncio.to_thread(server.enter_context, running_server(settings))
        try:
            summary = await analyse_stream(ArraySource(music(26.0, 44100, 2)), engine, analysis, [stats], keep_windows=True)
        finally:
            await engine.aclose()
            await asyncio.to_thread(server.close)
    return summary, stats.stats[-1]


async def test_results_arrive_by_webhook_from_aimd_serve(tmp_path):
    hook_port = free_port()
    summary, stats = await _judge_26_s(tmp_path, hook_port, f"http://127.0.0.1:{hook_port}/mippia", webhook_wait_s=30)
    assert summary.status is Status.OK and summary.window_count == 6 and not summary.is_ai, summary.message
    assert all(w.clip_level and w.decision.value == "human" for w in summary.windows)
    assert dict(stats.requests) == {"ok": 4}  # upload + detection request per clip: not one result poll


async def test_a_lost_webhook_falls_back_to_polling(tmp_path, caplog):
    hook_port, nobody = free_port(), free_port()
    summary, stats = await _judge_26_s(tmp_path, hook_port, f"http://127.0.0.1:{nobody}/mippia", webhook_wait_s=0.3)
    assert summary.status is Status.OK and summary.window_count == 6 and not summary.is_ai, summary.message
    assert dict(stats.requests)["ok"] >= 6  # the result polls
    assert "no webhook for task" in caplog.text
