"""The live status page of ``aimd run``: real aimd process, real HTTP feed, headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from playwright.async_api import Page
from services import free_port, wait_for_port
from test_report_support import chromium, expect

from streamer.audio.encode import encode_bytes
from streamer.sinks.metrics import Metrics
from streamer.synth import music
from streamer.types import Decision, EngineStats, WindowVerdict
from streamer.web import StatusSink, add_status_routes, bound_port, start_web_server
from streamer.web.status import SUBSCRIBER_BACKLOG

#: The feed is sent this many times faster than real time, so windows come quickly.
FEED_SPEED = 4.0
MP3_BYTES_PER_S = 16_000  # 128 kbit/s


class _Feed:
    """An Icecast-like endless MP3 stream on a local port, which the test can kill."""

    def __init__(self, audio: bytes) -> None:
        self.alive = threading.Event()
        self.alive.set()
        feed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.end_headers()
                chunk = int(MP3_BYTES_PER_S * FEED_SPEED / 10)
                position = 0
                try:
                    while feed.alive.is_set():
                        self.wfile.write(audio[position : position + chunk])
                        position = (position + chunk) % len(audio)
                        time.sleep(0.1)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/live"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def kill(self) -> None:
        """The broadcast dies: open connections close and new ones are refused."""
        self.alive.clear()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed() -> Iterator[_Feed]:
    feed = _Feed(encode_bytes(music(20.0, seed=5), 44_100, "mp3"))
    yield feed
    if feed.alive.is_set():
        feed.kill()


@pytest.fixture
def aimd_run(feed: _Feed) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "run", "--source", feed.url, "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=20)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_page_shows_a_running_source_turn_to_reconnecting_when_its_feed_dies(feed, aimd_run, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{aimd_run}"
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1200, "height": 400})
        await page.goto(base + "/")
        # Locator assertions, not wait_for_function: the page's CSP forbids the eval() the latter needs.
        row = page.locator("tr[data-source]")
        await expect(row.locator(".state")).to_have_text("running", timeout=20_000)
        # Two windows (8 s of audio at 4× speed) give a decision, a score and a two-point sparkline.
        await expect(row.locator("td:last-child")).to_have_text(re.compile(r"^([2-9]|\d\d+)$"), timeout=20_000)
        assert await row.get_attribute("data-source") == feed.url
        assert await row.locator("td.decision").inner_text() in {d.value for d in Decision}
        assert float(await row.locator("td.num").first.inner_text()) >= 0.0
        assert len((await row.locator("svg.spark polyline").get_attribute("points")).split()) >= 2
        assert await page.locator("#connection").inner_text() == "live"
        await page.screenshot(path=tmp_path / "running.png")

        feed.kill()
        await expect(row.locator(".state")).to_have_text("reconnecting", timeout=15_000)
        # The supervisor names the cause: the connection closed, or (a hung feed) its watchdog fired.
        assert re.search(r"stream ended|no audio", await row.locator("td").nth(6).inner_text())
        await page.screenshot(path=tmp_path / "reconnecting.png")

    async with ClientSession() as http:
        async with http.get(base + "/metrics") as response:
            text = await response.text()
            assert response.status == 200 and "aimd_windows_analyzed_total" in text
            assert f'aimd_source_up{{source="{feed.url}"}} 0.0' in text  # the stall reached the metrics too
        async with http.get(base + "/healthz") as response:
            assert (await response.json()) == {"status": "ok"}
        async with http.get(base + "/") as response:
            assert response.headers["Content-Security-Policy"] == "default-src 'self'"


def _verdict(index: int, score: float) -> WindowVerdict:
    return WindowVerdict(
        start_ms=index * 4000, end_ms=(index + 1) * 4000, vocal_percentage=0.0, vocal_ai_percentage=0.0,
        vocal_ai_confidence=0.0, instrumental_percentage=100.0, instrumental_ai_percentage=100.0 if score >= 0.5 else 0.0,
        instrumental_ai_confidence=score, silence_percentage=0.0, speech_percentage=0.0, level_dbfs=-18.0,
        ai_score=score, decision=Decision.AI if score >= 0.5 else Decision.HUMAN, running_ai_score=score,
        rolling_ai_score=score, captured_at=time.time(),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def status_page(board: StatusSink) -> AsyncIterator[Page]:
    """``board`` behind the real web app, its live page open and connected in headless Chromium."""
    runner = await start_web_server("127.0.0.1", 0, board, Metrics().registry)
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{bound_port(runner)}/")
            await expect(page.locator("#connection")).to_have_text("live")
            yield page
    finally:
        await runner.cleanup()


async def test_64_sources_render_one_row_each_with_bounded_history(tmp_path: Path) -> None:
    board = StatusSink(history=10)
    async with status_page(board) as page:
        for index in range(15):
            for source in range(64):
                await board.on_window(f"radio{source:02d}", _verdict(index, 0.9 if source % 2 else 0.1))
        await expect(page.locator("tr[data-source] td:last-child")).to_have_text(["15"] * 64)
        assert await page.locator("tr[data-source]").count() == 64
        assert await page.locator("tr[data-source] td.decision.ai").count() == 32
        points = await page.locator("tr[data-source='radio01'] svg.spark polyline").get_attribute("points")
        assert len(points.split()) == 10  # the page keeps the same bounded history as the sink
        await page.screenshot(path=tmp_path / "64.png", full_page=True)
    assert all(len(source["scores"]) == 10 for source in board.snapshot())


async def test_a_remote_engines_request_log_shows_in_its_row() -> None:
    board = StatusSink()
    async with status_page(board) as page:
        stats = EngineStats("modulate", requests=(("ok", 11), ("quota", 1)), audio_seconds_sent=48.0,
                            latency_ms_mean=34.6, last_outcome="ok", last_request_at=time.time())  # fmt: skip
        await board.on_engine_stats("remote", stats)
        await board.on_window("remote", _verdict(0, 0.9))
        await board.on_window("local", _verdict(0, 0.1))
        engine = page.locator("tr[data-source='remote'] td").nth(7)
        await expect(engine).to_have_text("modulate: 12 requests, 1 quota error, 35 ms mean")
        assert await engine.get_attribute("title") == "last: ok, 48 s of audio sent"
        await expect(page.locator("tr[data-source='local'] td").nth(7)).to_have_text("local")
        await expect(page.locator("tr[data-source] td:last-child")).to_have_text(["1", "1"])


async def test_a_subscriber_that_falls_behind_gets_a_snapshot_instead_of_a_backlog() -> None:
    board = StatusSink()
    subscription = board.subscribe()
    stream = aiter(subscription)
    assert await anext(stream) == ("snapshot", [])
    for index in range(SUBSCRIBER_BACKLOG + 1):  # one more than fits: the backlog collapses into one snapshot
        await board.on_window("radio", _verdict(index, 0.2))
    kind, data = await anext(stream)
    assert kind == "snapshot" and data[0]["windows"] == SUBSCRIBER_BACKLOG + 1
    await board.on_source_state("radio", "stopped")
    kind, data = await anext(stream)
    assert kind == "update" and data["state"] == "stopped"
    board.unsubscribe(subscription)


async def test_mounted_routes_sit_behind_the_host_apps_authentication() -> None:
    async def authorize(request: web.Request) -> None:
        if request.headers.get("Authorization") != "Bearer let-me-in":
            raise web.HTTPUnauthorized(text="missing or wrong credentials")

    app = web.Application()
    add_status_routes(app, StatusSink(), authorize)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with ClientSession(f"http://127.0.0.1:{port}") as http:
            for path in ("/", "/status.js", "/events"):
                async with http.get(path) as response:
                    assert response.status == 401
            async with http.get("/", headers={"Authorization": "Bearer let-me-in"}) as response:
                assert response.status == 200 and "live status" in await response.text()
            async with http.get("/events", headers={"Authorization": "Bearer let-me-in"}) as response:
                assert response.headers["Content-Type"] == "text/event-stream"
                assert await asyncio.wait_for(response.content.readline(), 5) == b"event: snapshot\n"
    finally:
        await runner.cleanup()
