"""Undetectable.AI's client flow against ``aimd serve``: presign → PUT → detect → poll /query."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import requests
from audio_fixtures import encode, music, random_bytes
from server_app import running_server
from services import free_port

from streamer.server.settings import ServerSettings
from streamer.server.storage import DATABASE_FILE, load_secret
from streamer.server.tasks import TaskState, TaskStore
from streamer.vendors import undetectable

KEY = "und-key-1"


def _settings(data_dir: Path, **overrides) -> ServerSettings:
    return ServerSettings(port=free_port(), api_keys=(KEY,), data_dir=data_dir, **overrides)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("und")


@pytest.fixture(scope="module")
def server(data_dir):
    with running_server(_settings(data_dir)) as address:
        yield f"http://{address}"


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("a") / "song.mp3", music(9.0, 44100, 2), 44100, "mp3")


def _upload(server: str, data: bytes, name: str = "song.mp3", content_type: str = "audio/mpeg") -> tuple[requests.Response, str]:
    presign = requests.get(f"{server}/get-presigned-url", params={"file_name": name}, headers={"apikey": KEY}, timeout=5)
    assert presign.status_code == 200, presign.text
    body = presign.json()
    assert body["status"] == "success" and body["presigned_url"].startswith(server + "/uploads/")
    put = requests.put(body["presigned_url"], data=data, headers={"Content-Type": content_type, "x-amz-acl": "private"}, timeout=10)
    return put, body["file_path"]


def _detect(server: str, file_path: str, **extra) -> dict:
    resp = requests.post(f"{server}/detect", json={"key": KEY, "url": file_path, "document_type": "Audio", **extra}, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _poll(server: str, task_id: str, timeout_s: float = 20.0) -> tuple[dict, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = requests.post(f"{server}/query", json={"id": task_id}, timeout=5).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in ("done", "failed"):
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still {seen[-1]}")


def test_documented_flow_ends_done_with_result_details(server, mp3):
    put, file_path = _upload(server, mp3.read_bytes())
    assert put.status_code == 200 and file_path.startswith("uploads/") and file_path.endswith("/song.mp3")
    created = _detect(server, file_path)
    assert created["status"] == "pending" and set(created) == {"id", "status"}
    body, seen = _poll(server, created["id"])
    assert set(seen) <= {"pending", "analyzing", "done"} and seen[-1] == "done"
    details = body["result_details"]
    assert body["result"] == details["mean_ai_prob"] and 0 <= body["result"] <= 1
    assert details["is_valid"] is True and details["is_truncated"] is False
    assert len(details["individual_chunks_ai_prob"]) == 2  # 9 s → two 4 s windows
    assert details["original_duration"] == pytest.approx(9.0, abs=0.1)


def test_analyze_up_to_seconds_truncates(server, mp3):
    _, file_path = _upload(server, mp3.read_bytes())
    body, _ = _poll(server, _detect(server, file_path, analyzeUpToSeconds=4)["id"])
    details = body["result_details"]
    assert details["is_truncated"] is True and details["truncated_duration"] == pytest.approx(4.0, abs=0.01)
    assert details["original_duration"] == pytest.approx(9.0, abs=0.1) and len(details["individual_chunks_ai_prob"]) == 1


def test_the_full_presigned_url_is_accepted_as_url(server, mp3):
    presign = requests.get(f"{server}/get-presigned-url", params={"file_name": "a.mp3"}, headers={"apikey": KEY}, timeout=5).json()
    requests.put(presign["presigned_url"], data=mp3.read_bytes(), headers={"Content-Type": "audio/mp3"}, timeout=10).raise_for_status()
    assert _poll(server, _detect(server, presign["presigned_url"])["id"])[0]["status"] == "done"


def test_undecodable_upload_fails_the_task(server, tmp_path):
    _, file_path = _upload(server, random_bytes(tmp_path / "r.mp3", size=8192).read_bytes())
    body, _ = _poll(server, _detect(server, file_path)["id"])
    assert body["status"] == "failed" and body["result"] is None and body["result_details"]["is_valid"] is False


def test_upload_rules(server, mp3, data_dir):
    assert _upload(server, b"x" * 500)[0].status_code == 413  # under 1 KB
    assert _upload(server, b"\0" * (undetectable.MAX_UPLOAD_BYTES + 1))[0].status_code == 413
    assert _upload(server, mp3.read_bytes(), content_type="text/plain")[0].status_code == 415
    presign = requests.get(f"{server}/get-presigned-url", params={"file_name": "b.mp3"}, headers={"apikey": KEY}, timeout=5).json()
    tampered = presign["presigned_url"].replace("signature=", "signature=0")
    assert requests.put(tampered, data=mp3.read_bytes(), headers={"Content-Type": "audio/mpeg"}, timeout=5).status_code == 403
    expired = undetectable.presign(load_secret(data_dir), server, presign["file_path"], time.time() - 3600)
    resp = requests.put(expired, data=mp3.read_bytes(), headers={"Content-Type": "audio/mpeg"}, timeout=5)
    assert resp.status_code == 403 and resp.json() == {"detail": "presigned URL has expired"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/get-presigned-url", {"params": {"file_name": "a.mp3"}, "headers": {"apikey": "wrong"}}, 403),
        ("get", "/get-presigned-url", {"headers": {"apikey": KEY}}, 422),
        ("get", "/get-presigned-url", {"params": {"file_name": "my song.mp3"}, "headers": {"apikey": KEY}}, 422),
        ("post", "/detect", {"json": {"key": "wrong", "url": "uploads/0123456789abcdef/a.mp3"}}, 403),
        ("post", "/detect", {"json": {"url": "uploads/0123456789abcdef/a.mp3"}}, 422),
        ("post", "/detect", {"json": {"key": KEY, "url": "uploads/0123456789abcdef/none.mp3"}}, 404),
        ("post", "/detect", {"json": {"key": KEY, "url": "uploads/../../etc/passwd.mp3"}}, 404),
        ("post", "/detect", {"data": b"not json"}, 422),
        ("post", "/query", {"json": {"id": "no-such-task"}}, 404),
        ("post", "/query", {"json": {}}, 422),
        ("get", "/check-user-credits", {}, 403),
    ],
)
def test_error_answers(server, method, path, kwargs, status):
    resp = requests.request(method, f"{server}{path}", timeout=5, **kwargs)
    assert resp.status_code == status and isinstance(resp.json()["detail"], str)


def test_credits_go_down_with_analysed_audio(server, mp3):
    def credits() -> float:
        body = requests.get(f"{server}/check-user-credits", headers={"apikey": KEY}, timeout=5).json()
        assert set(body) == {"baseCredits", "boostCredits", "credits"}
        return body["credits"]

    before = credits()
    _, file_path = _upload(server, mp3.read_bytes())
    _poll(server, _detect(server, file_path)["id"])
    assert before - credits() in (8, 9, 10)  # ~9 s of audio, 1 credit per second
    assert requests.get(f"{server}/health", timeout=5).json() == {"status": "ok"}


def test_unfinished_tasks_survive_a_restart(tmp_path, mp3):
    """A task the previous process left running is analysed again; one whose input vanished is failed, not lost."""
    kept = tmp_path / "uploads" / "0123456789abcdef" / "song.mp3"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(mp3.read_bytes())

    async def leave_unfinished() -> None:
        store = TaskStore(tmp_path / DATABASE_FILE)
        await store.open()
        await store.create("resumed", "undetectable", "owner", {"path": str(kept), "max_seconds": None})
        await store.set_state("resumed", TaskState.RUNNING)
        await store.create("lost", "undetectable", "owner", {"path": str(tmp_path / "gone.mp3"), "max_seconds": None})
        await store.close()

    asyncio.run(leave_unfinished())
    with running_server(_settings(tmp_path)) as address:
        assert _poll(f"http://{address}", "resumed")[0]["status"] == "done"
        lost = _poll(f"http://{address}", "lost")[0]
        assert lost["status"] == "failed" and "gone" in lost["result_details"]["message"]


def test_old_results_expire(tmp_path, mp3):
    with running_server(_settings(tmp_path, task_ttl_s=0.3, task_sweep_interval_s=0.1)) as address:
        server = f"http://{address}"
        _, file_path = _upload(server, mp3.read_bytes())
        task_id = _detect(server, file_path)["id"]
        assert _poll(server, task_id)[0]["status"] == "done"
        deadline = time.monotonic() + 5
        while requests.post(f"{server}/query", json={"id": task_id}, timeout=5).status_code != 404:
            assert time.monotonic() < deadline, "the finished task never expired"
            time.sleep(0.1)
        assert not (tmp_path / file_path).exists()
