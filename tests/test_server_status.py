"""`aimd serve`'s live status page: behind the API key, one row per open stream, gone when it ends."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import numpy as np
import pytest
import requests
import websockets

from audio_fixtures import music
from server_app import running_server
from services import free_port
from streamer.server.settings import ServerSettings

KEY = "status-key"
STREAM = "/api/velma-2-ai-music-detection-streaming?api_key={key}&audio_format=s16le&sample_rate=44100&num_channels=2"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = ServerSettings(port=free_port(), api_keys=(KEY,), data_dir=tmp_path_factory.mktemp("data"))
    with running_server(settings) as address:
        yield address


def test_page_and_events_need_the_api_key(server):
    assert requests.get(f"http://{server}/", timeout=5).status_code == 401
    assert requests.get(f"http://{server}/events", timeout=5, stream=True).status_code == 401
    page = requests.get(f"http://{server}/?api_key={KEY}", timeout=5)
    assert page.status_code == 200 and "<html" in page.text.lower()
    metrics = requests.get(f"http://{server}/metrics", timeout=5).text
    assert "aimd_serve_http_responses_total" in metrics and "aimd_build_info" in metrics


async def _events(session: aiohttp.ClientSession, server: str, queue: asyncio.Queue) -> None:
    async with session.get(f"http://{server}/events?api_key={KEY}") as response:
        kind = None
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                await queue.put((kind, json.loads(line.removeprefix("data: "))))


async def test_a_stream_shows_its_windows_and_disappears_when_it_ends(server):
    pcm = (music(9.0, seed=4) * 32767).astype("<i2").tobytes()
    queue: asyncio.Queue = asyncio.Queue()
    async with aiohttp.ClientSession() as session:
        listener = asyncio.create_task(_events(session, server, queue))
        kind, rows = await asyncio.wait_for(queue.get(), 5)
        assert kind == "snapshot" and rows == []
        async with websockets.connect(f"ws://{server}{STREAM.format(key=KEY)}") as ws:
            for start in range(0, len(pcm), 32768):
                await ws.send(pcm[start : start + 32768])
            await ws.send("")
            messages = [json.loads(m) async for m in ws]
        assert [m["type"] for m in messages] == ["window", "window", "done"]
        updates = []
        while not (updates and updates[-1].get("removed")):
            kind, update = await asyncio.wait_for(queue.get(), 10)
            updates.append(update)
        listener.cancel()
    stream_id = updates[0]["id"]
    assert stream_id.startswith("stream-") and KEY not in stream_id
    assert updates[0]["state"] == "running"
    scored = [u for u in updates if "score" in u]
    assert len(scored) == 2 and all(0 <= u["score"] <= 1 for u in scored)
    assert scored[-1]["windows"] == 2 and np.isfinite(scored[-1]["level_dbfs"])
    assert updates[-1] == {"id": stream_id, "removed": True}
