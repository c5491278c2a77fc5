"""MIPPIA's client flow against ``aimd serve``: upload → ai-detection/{tier} → poll, plus signed webhooks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from aiohttp import web
from audio_fixtures import encode, music, random_bytes
from server_app import running_app, running_server
from services import free_port, wait_for_port

from streamer.server.settings import ServerSettings
from streamer.vendors import mippia

KEY = "mippia-key-1"
OTHER_KEY = "mippia-key-2"
SECRET = "whsec-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Receiver:
    """A customer's webhook endpoint: answers the challenge, fails its first delivery to force a retry."""

    def __init__(self) -> None:
        self.challenges: list[str] = []
        self.deliveries: list[tuple[dict, dict[str, str]]] = []
        self.refused = 0
        self.app = web.Application()
        self.app.router.add_post("/hook", self.hook)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "url_verification":
            self.challenges.append(body["challenge"])
            return web.json_response({"challenge": body["challenge"]})
        if not self.refused:
            self.refused += 1
            return web.Response(status=500)
        self.deliveries.append((body, dict(request.headers)))
        return web.json_response({"ok": True})


@pytest.fixture(scope="module")
def receiver():
    hook = Receiver()
    with running_app(hook.app, "127.0.0.1", free_port()) as address:
        yield hook, f"http://{address}/hook"


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    settings = ServerSettings(
        port=free_port(), api_keys=(KEY, OTHER_KEY), data_dir=tmp_path_factory.mktemp("mippia"), mippia_lite_seconds=4.0,
        mippia_webhook_url=receiver[1], mippia_webhook_secret=SECRET, webhook_backoff_s=0.05,
    )  # fmt: skip
    with running_server(settings) as address:
        yield f"http://{address}"


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("a") / "track.mp3", music(13.0, 44100, 2), 44100, "mp3")


def _upload(server: str, path: Path, headers=AUTH) -> requests.Response:
    with path.open("rb") as f:
        return requests.post(f"{server}/api/v1/music", headers=headers, files={"file": (path.name, f)}, timeout=10)


def _submit(server: str, tier: str, music_id: str) -> dict:
    resp = requests.post(f"{server}/api/v1/ai-detection/{tier}", headers=AUTH, json={"musicId": music_id}, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _poll(server: str, task_id: str, headers=AUTH) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = requests.get(f"{server}/api/v1/task/result/{task_id}", headers=headers, timeout=5).json()
        if body["status"] in ("success", "failure"):
            return body
        assert body["status"] in ("pending", "processing") and body["result"] is None
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


@pytest.fixture(scope="module")
def music_id(server, mp3) -> str:
    resp = _upload(server, mp3)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["title"] == "track" and set(body) == {"musicId", "title", "created_at"}
    return body["musicId"]


def test_standard_has_per_segment_analysis(server, music_id):
    created = _submit(server, "standard", music_id)
    assert created["status"] == "pending" and created["model"] == "standard" and created["taskId"] == created["task_id"]
    assert created["task_id"].startswith("task_") and created["filepath"] == f"uploads/{created['task_id']}.mp3"
    body = _poll(server, created["task_id"])
    assert body["status"] == "success" and body["model_type"] == "standard"
    result = body["result"]["track.mp3"]
    assert result["final_result"]["prediction"] in ("real", "fake")
    segments = result["model_results"][1]["segment_analysis"]
    assert len(segments["prediction"]) == len(segments["confidence"]) == 3  # 13 s → three 4 s windows


def test_tiers_differ(server, music_id):
    bodies = {tier: _poll(server, _submit(server, tier, music_id)["task_id"])["result"] for tier in ("lite", "pro", "pro-v2")}
    lite = bodies["lite"]["track.mp3"]["model_results"]
    assert len(lite) == 1 and "segment_analysis" not in lite[0]  # one fingerprint pass over the first 4 s
    pro = bodies["pro"]["track.mp3"]["model_results"]
    assert [m["config"]["model_id"] for m in pro] == ["model_0", "model_1", "model_5"]
    assert pro[2]["overall_analysis"]["prediction"] in pro[2]["config"]["labels"]
    assert set(bodies["pro-v2"]) == {"final_result", "model_results"}  # no filename wrapper


def test_legacy_multipart_submit_and_webhooks(server, mp3, receiver):
    hook, _ = receiver
    with mp3.open("rb") as f:
        resp = requests.post(f"{server}/api/v1/ai-detection/lite", headers=AUTH, files={"file": (mp3.name, f)}, timeout=10)
    task_id = resp.json()["task_id"]
    assert _poll(server, task_id)["status"] == "success"
    _wait_for_webhook(hook, task_id)
    assert hook.challenges and hook.refused == 1  # the handshake happened and a failed delivery was retried
    mine = [(b, h) for b, h in hook.deliveries if b["task_id"] == task_id]
    assert [b["status"] for b, _ in mine] == ["processing", "success"]
    for body, headers in mine:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert body["taskId"] == task_id and mippia.verify_webhook(SECRET.encode(), task_id, lowered, time.time())
        assert not mippia.verify_webhook(b"other-secret", task_id, lowered, time.time())


def _wait_for_webhook(hook: Receiver, task_id: str, status: str = "success") -> dict[str, str]:
    deadline = time.monotonic() + 20
    while True:
        for body, headers in hook.deliveries:
            if body["task_id"] == task_id and body["status"] == status:
                return {k.lower(): v for k, v in headers.items()}
        assert time.monotonic() < deadline, f"no {status} webhook for {task_id}"
        time.sleep(0.05)


def test_serve_command_line_sends_signed_webhooks(receiver, mp3, tmp_path):
    """As a user runs it: the callback URL on the command line, the secret from the environment."""
    hook, url = receiver
    serve = [sys.executable, "-m", "streamer", "serve", "--data-dir", str(tmp_path), "--mippia-webhook-url", url]
    env = {k: v for k, v in os.environ.items() if k != "AIMD_MIPPIA_WEBHOOK_SECRET"} | {"AIMD_API_KEYS": KEY}
    refused = subprocess.run([*serve, "--port", str(free_port())], env=env, capture_output=True, timeout=30)
    assert refused.returncode == 2 and b"AIMD_MIPPIA_WEBHOOK_SECRET" in refused.stderr
    port = free_port()
    process = subprocess.Popen([*serve, "--port", str(port)], env=env | {"AIMD_MIPPIA_WEBHOOK_SECRET": SECRET},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port(port, timeout=20)
        with mp3.open("rb") as f:
            resp = requests.post(f"http://127.0.0.1:{port}/api/v1/ai-detection/lite", headers=AUTH,
                                 files={"file": (mp3.name, f)}, timeout=10)  # fmt: skip
        task_id = resp.json()["task_id"]
        headers = _wait_for_webhook(hook, task_id)
        assert mippia.verify_webhook(SECRET.encode(), task_id, headers, time.time())
    finally:
        process.terminate()
        process.wait(10)


def test_undecodable_music_fails_the_task(server, tmp_path):
    music_id = _upload(server, random_bytes(tmp_path / "noise.mp3")).json()["musicId"]
    body = _poll(server, _submit(server, "standard", music_id)["task_id"])
    assert body["status"] == "failure" and body["result"] is None and body["error"]


def test_a_short_clip_fails_the_task(server, tmp_path):
    short = encode(tmp_path / "short.wav", music(2.0, 44100, 1), 44100, "wav")
    body = _poll(server, _submit(server, "lite", _upload(server, short).json()["musicId"])["task_id"])
    assert body["status"] == "failure" and "shorter" in body["error"]


def test_other_keys_cannot_see_tasks_or_music(server, music_id):
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    task_id = _submit(server, "lite", music_id)["task_id"]
    assert requests.get(f"{server}/api/v1/task/result/{task_id}", headers=other, timeout=5).status_code == 404
    resp = requests.post(f"{server}/api/v1/ai-detection/lite", headers=other, json={"musicId": music_id}, timeout=5)
    assert resp.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("post", "/api/v1/music", {"headers": {"Authorization": "Bearer wrong"}, "files": {"file": ("a.mp3", b"x")}}, 401),
        ("post", "/api/v1/music", {"headers": AUTH, "files": {"upload": ("a.mp3", b"x")}}, 422),
        ("post", "/api/v1/music", {"headers": AUTH, "files": {"file": ("a.exe", b"x")}}, 422),
        ("post", "/api/v1/music", {"headers": AUTH, "files": {"file": ("a.mp3", b"")}}, 422),
        ("post", "/api/v1/ai-detection/ultra", {"headers": AUTH, "json": {"musicId": "x"}}, 404),
        ("post", "/api/v1/ai-detection/lite", {"headers": AUTH, "json": {}}, 422),
        ("post", "/api/v1/ai-detection/lite", {"headers": AUTH, "json": {"musicId": "../../etc"}}, 422),
        ("post", "/api/v1/ai-detection/lite", {"headers": AUTH, "json": {"musicId": "6f1c0c39-8a3b-4f0e-9d55-2f1a1b2c3d4e"}}, 404),
        ("post", "/api/v1/ai-detection/lite", {"headers": AUTH, "data": b"{"}, 422),
        ("get", "/api/v1/task/result/task_nope", {"headers": AUTH}, 404),
    ],
)
def test_error_answers(server, method, path, kwargs, status):
    resp = requests.request(method, f"{server}{path}", timeout=5, **kwargs)
    assert resp.status_code == status and isinstance(resp.json()["detail"], str)
