"""``aimd serve`` on loopback, driven by real clients (requests, websockets) as the vendors' docs show."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import requests
import websockets
from aiohttp import web
from audio_fixtures import encode, music, random_bytes, video_without_audio
from server_app import running_app, running_server
from services import free_port

from streamer.server.fetch_guard import is_public
from streamer.server.settings import ServerSettings

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = ServerSettings(
        port=free_port(), api_keys=(KEY,), pex_clients=("cid:csecret",), pex_min_duration_s=5.0, max_upload_bytes=2_000_000,
        data_dir=tmp_path_factory.mktemp("data"),
    )  # fmt: skip
    with running_server(settings) as address:
        yield address


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("a") / "song.mp3", music(9.0, 44100, 2), 44100, "mp3")


def _batch(server, path: Path | None, key: str | None = KEY, field: str = "upload_file"):
    headers = {"X-API-Key": key} if key else {}
    files = {field: (path.name, path.read_bytes())} if path else {"other": ("x", b"1")}
    return requests.post(f"http://{server}/api/velma-2-ai-music-detection-batch", headers=headers, files=files, timeout=30)


def test_batch_answers_the_documented_shape(server, mp3):
    resp = _batch(server, mp3)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["filename"] == "song.mp3" and body["primary_verdict"] in ("ai-vocal-music", "ai-instrumental", "not-ai-music")
    assert [w["start_time_ms"] for w in body["windows"]] == [0, 4000]
    assert set(body) == {"filename", "duration_s", "primary_verdict", "vocal_percentage", "vocal_ai_percentage",
                         "vocal_ai_confidence", "instrumental_percentage", "instrumental_ai_percentage",
                         "instrumental_ai_confidence", "silence_percentage", "windows", "latency_ms"}  # fmt: skip


def test_batch_error_paths(server, mp3, tmp_path):
    assert _batch(server, mp3, key=None).json() == {"detail": "Invalid request."}
    assert _batch(server, mp3, key="wrong").status_code == 401
    missing = _batch(server, None)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "upload_file"]
    empty = tmp_path / "e.mp3"
    empty.write_bytes(b"")
    assert _batch(server, empty).json() == {"detail": "The uploaded file is empty."}
    for bad in (random_bytes(tmp_path / "r.mp3"), video_without_audio(tmp_path / "v.mp4")):
        resp = _batch(server, bad)
        assert resp.status_code == 400 and "could not be processed" in resp.json()["detail"]
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 3_000_000)
    assert _batch(server, big).status_code == 413


async def _stream(server, query: str, data: bytes, chunk: int, end: str = "", key: str = KEY) -> tuple[list[dict], int]:
    url = f"ws://{server}/api/velma-2-ai-music-detection-streaming?api_key={key}&{query}"
    messages = []
    async with websockets.connect(url, max_size=None) as ws:
        try:  # the server may close early (an error): stop sending, still read what it said
            for i in range(0, len(data), chunk):
                await ws.send(data[i : i + chunk])
            await ws.send(end)
        except websockets.ConnectionClosed:
            pass
        try:
            async for raw in ws:
                messages.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        return messages, ws.close_code


@pytest.mark.parametrize("chunk", [1, 4096, 1 << 20])
async def test_stream_chunking_gives_identical_windows(server, chunk):
    pcm = (music(8.5, 8000, 1)[:, 0] * 127).astype(np.int8).tobytes()
    messages, code = await _stream(server, "audio_format=s8&sample_rate=8000&num_channels=1", pcm, chunk)
    assert code == 1000
    assert [m["type"] for m in messages] == ["window", "window", "done"]
    assert messages[-1]["window_count"] == 2 and len(messages[0]["window"]) == 7
    test_stream_chunking_gives_identical_windows.seen = getattr(test_stream_chunking_gives_identical_windows, "seen", [])
    test_stream_chunking_gives_identical_windows.seen.append(messages)
    assert all(seen == messages for seen in test_stream_chunking_gives_identical_windows.seen)


async def test_container_stream_in_one_byte_frames_gives_the_windows_of_one_frame(server, tmp_path):
    """The incremental demuxer must not depend on how the bytes are cut: a 1-byte frame is the hardest cut."""
    data = encode(tmp_path / "s.mp3", music(4.5, 22050, 1), 22050, "mp3", bitrate=32_000).read_bytes()
    whole, whole_code = await _stream(server, "audio_format=mp3", data, 1 << 20)
    bytewise, bytewise_code = await _stream(server, "audio_format=mp3", data, 1)
    assert whole_code == bytewise_code == 1000
    assert [m["type"] for m in whole] == ["window", "done"]
    assert bytewise == whole


@pytest.mark.parametrize("fmt", ["mp3", "flac", "wav", "ogg"])
async def test_stream_container_formats(server, fmt, tmp_path):
    data = encode(tmp_path / f"s.{fmt}", music(9.0, 44100, 2), 44100, fmt).read_bytes()
    messages, code = await _stream(server, f"audio_format={fmt}", data, 3000)
    assert code == 1000 and [m["type"] for m in messages] == ["window", "window", "done"]


@pytest.mark.parametrize(
    ("query", "data", "end", "code", "error"),
    [
        ("audio_format=mp4", b"", "", 1003, "Invalid audio_format='mp4'"),
        ("audio_format=f32le&sample_rate=16000&num_channels=1", b"ID3\x04" + bytes(4000), "", 4002, "Audio data does not match"),
        ("audio_format=mp3", bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8)), "", 4002, "could not be processed"),
        ("audio_format=s16le&sample_rate=16000&num_channels=1", bytes(3200), "stop", 1003, "Text frames"),
    ],
)
async def test_stream_errors_send_error_then_close(server, query, data, end, code, error):
    messages, close_code = await _stream(server, query, data, len(data) or 1, end)
    assert close_code == code
    assert messages[-1]["type"] == "error" and error in messages[-1]["error"]


async def test_stream_bad_key_closes_4001(server):
    async with websockets.connect(f"ws://{server}/api/velma-2-ai-music-detection-streaming?api_key=no&audio_format=mp3") as ws:
        assert json.loads(await ws.recv())["type"] == "error"
        await ws.wait_closed()
        assert ws.close_code == 4001


async def test_client_disconnect_mid_stream_leaves_server_healthy(server, mp3):
    async with websockets.connect(f"ws://{server}/api/velma-2-ai-music-detection-streaming?api_key={KEY}&audio_format=mp3") as ws:
        await ws.send(mp3.read_bytes()[:5000])
    await asyncio.sleep(0.2)
    health = await asyncio.to_thread(requests.get, f"http://{server}/healthz", timeout=5)
    metrics = await asyncio.to_thread(requests.get, f"http://{server}/metrics", timeout=5)
    assert health.json() == {"status": "ok"} and "aimd_serve_streams_open 0" in metrics.text


def _pex_token(server) -> str:
    resp = requests.post(f"http://{server}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("cid", "csecret"), timeout=5)
    resp.raise_for_status()
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    return body["access_token"]


def test_pex_flow_and_status_vocabulary(server, mp3, tmp_path):
    headers = {"Authorization": f"Bearer {_pex_token(server)}"}
    url = f"http://{server}/v1/ai-detector/detect"
    ok = requests.post(url, headers=headers, files={"file": mp3.open("rb")}, timeout=30).json()
    assert ok["status"] == "ok" and isinstance(ok["is_ai"], bool) and ok["request_id"] > 2**53
    short = encode(tmp_path / "short.mp3", music(3.0, 44100, 2), 44100, "mp3")
    assert requests.post(url, headers=headers, files={"file": short.open("rb")}, timeout=30).json()["status"] == "too_short"
    junk = random_bytes(tmp_path / "junk.mp3")
    assert requests.post(url, headers=headers, files={"file": junk.open("rb")}, timeout=30).json()["status"] == "invalid_file"
    novideo = video_without_audio(tmp_path / "v.mp4")
    assert requests.post(url, headers=headers, files={"file": novideo.open("rb")}, timeout=30).json()["status"] == "no_audio"
    assert requests.post(url, headers=headers, files={"media": mp3.open("rb")}, timeout=30).status_code == 400
    assert requests.post(url, headers={"Authorization": "Bearer nope"}, files={"file": mp3.open("rb")}, timeout=30).status_code == 401
    gone = requests.post(f"http://{server}/v1/ai-detector/detect-url", headers=headers, data={"url": f"http://{server}/nothing.mp3"}, timeout=30)
    assert gone.json()["status"] == "not_found"


def test_pex_token_rejects_wrong_secret(server):
    resp = requests.post(f"http://{server}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("cid", "bad"), timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


@pytest.fixture(scope="module")
def file_host(mp3):
    """A plain HTTP server on loopback serving the test MP3, and a redirect to it."""

    async def song(request: web.Request) -> web.FileResponse:
        return web.FileResponse(mp3)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/song.mp3")

    app = web.Application()
    app.router.add_get("/song.mp3", song)
    app.router.add_get("/redirect", redirect)
    with running_app(app, "127.0.0.1", free_port()) as address:
        yield f"http://{address}"


def test_detect_url_fetches_when_private_addresses_are_allowed(tmp_path, file_host):
    settings = ServerSettings(port=free_port(), pex_clients=("cid:csecret",), pex_min_duration_s=5.0, pex_fetch_private=True, data_dir=tmp_path)
    with running_server(settings) as address:
        headers = {"Authorization": f"Bearer {_pex_token(address)}"}
        for path in ("/song.mp3", "/redirect"):
            resp = requests.post(f"http://{address}/v1/ai-detector/detect-url", headers=headers, data={"url": file_host + path}, timeout=30)
            assert resp.json()["status"] == "ok", resp.text


@pytest.mark.parametrize("target", ["/song.mp3", "/redirect"])
def test_detect_url_refuses_loopback_by_default(server, file_host, target):
    headers = {"Authorization": f"Bearer {_pex_token(server)}"}
    for url in (file_host + target, file_host.replace("127.0.0.1", "localhost") + target):
        resp = requests.post(f"http://{server}/v1/ai-detector/detect-url", headers=headers, data={"url": url}, timeout=30)
        assert resp.json()["status"] == "not_found"


@pytest.mark.parametrize(("address", "public"), [("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False),
                                                  ("::1", False), ("fd00::1", False), ("100.64.0.1", False), ("2001:4860:4860::8888", True)])  # fmt: skip
def test_only_public_addresses_pass_the_guard(address, public):
    assert is_public(address) is public
