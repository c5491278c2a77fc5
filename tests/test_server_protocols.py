"""protocols/openapi.yaml and asyncapi.yaml: every $ref resolves, every route is documented, and what
the real server answers (HTTP bodies, WebSocket messages, webhooks) validates against the documents."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import websockets
import yaml
from aiohttp import web
from audio_fixtures import encode, music
from referencing import Registry, Resource
from server_app import running_app, running_server
from services import free_port

from streamer.server.app import create_app
from streamer.server.settings import ServerSettings

PROTOCOLS = Path(__file__).resolve().parent.parent / "protocols"
OPENAPI = yaml.safe_load((PROTOCOLS / "openapi.yaml").read_text())
ASYNCAPI = yaml.safe_load((PROTOCOLS / "asyncapi.yaml").read_text())
REGISTRY = Registry().with_resources(
    (f"schemas/{p.name}", Resource.from_contents(json.loads(p.read_text()))) for p in (PROTOCOLS / "schemas").glob("*.json")
).with_resources((p.name, Resource.from_contents(json.loads(p.read_text()))) for p in (PROTOCOLS / "schemas").glob("*.json"))
KEY = "proto-key"
WEBHOOKS: list[dict] = []


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _pointer(doc: dict, ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.mark.parametrize("doc", [OPENAPI, ASYNCAPI], ids=["openapi", "asyncapi"])
def test_every_ref_resolves(doc):
    refs = _refs(doc)
    assert refs
    for ref in refs:
        if ref.startswith("#/"):
            assert _pointer(doc, ref) is not None
        else:
            schema = json.loads((PROTOCOLS / ref).read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            for inner in _refs(schema):  # schema-to-schema references resolve too
                REGISTRY.resolver().lookup(inner)


def test_every_route_is_documented(tmp_path):
    app = create_app(ServerSettings(api_keys=(KEY,), data_dir=tmp_path))
    channels = {c["address"] for c in ASYNCAPI["channels"].values()}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD":
            continue
        if path in channels:
            assert route.method == "GET"
            continue
        assert route.method.lower() in OPENAPI["paths"].get(path, {}), f"{route.method} {path} is not in openapi.yaml"


def _validate(instance: Any, schema: dict) -> None:
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(instance)


def check(resp: requests.Response, template: str) -> requests.Response:
    """Validate a real answer against the response schema openapi.yaml gives its path, method and status."""
    operation = OPENAPI["paths"][template][resp.request.method.lower()]
    documented = operation["responses"].get(str(resp.status_code))
    assert documented is not None, f"{resp.request.method} {template} answered undocumented {resp.status_code}: {resp.text}"
    content = documented.get("content", {})
    if "application/json" in content:
        _validate(resp.json(), content["application/json"]["schema"])
    return resp


def _message_schema(channel: str, name: str) -> dict:
    return ASYNCAPI["channels"][channel]["messages"][name]["payload"]


class _Hook:
    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "url_verification":
            return web.json_response({"challenge": body["challenge"]})
        WEBHOOKS.append(body)
        return web.json_response({})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    hook = web.Application()
    hook.router.add_post("/hook", _Hook().handle)
    with running_app(hook, "127.0.0.1", free_port()) as hook_address:
        settings = ServerSettings(
            port=free_port(), api_keys=(KEY,), pex_clients=("cid:sec",), pex_min_duration_s=4.0, data_dir=tmp_path_factory.mktemp("p"),
            mippia_webhook_url=f"http://{hook_address}/hook", mippia_webhook_secret="s", webhook_backoff_s=0.01,
        )  # fmt: skip
        with running_server(settings) as address:
            yield f"http://{address}"


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("a") / "song.mp3", music(9.0, 44100, 2), 44100, "mp3")


def _wait(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return result


def test_modulate_and_health_answers(server, mp3):
    up = {"upload_file": ("song.mp3", mp3.read_bytes())}
    for path in ("/api/velma-2-ai-music-detection-batch", "/api/velma-2-music-detection-batch"):
        check(requests.post(server + path, headers={"X-API-Key": KEY}, files=up, timeout=30), path)
        check(requests.post(server + path, headers={"X-API-Key": "bad"}, files=up, timeout=30), path)
        check(requests.post(server + path, headers={"X-API-Key": KEY}, files={"x": ("a", b"1")}, timeout=30), path)
    v2 = requests.post(server + "/api/velma-2-ai-music-detection-batch?schema_version=2", headers={"X-API-Key": KEY}, files=up, timeout=30)
    assert "vocal_ai_probability" in v2.json()["windows"][0]
    check(requests.get(server + "/healthz", timeout=5), "/healthz")
    check(requests.get(server + "/health", timeout=5), "/health")


def test_pex_answers(server, mp3):
    check(requests.post(server + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("cid", "bad"), timeout=5), "/oauth2/token")
    check(requests.post(server + "/oauth2/token", data={"grant_type": "password"}, auth=("cid", "sec"), timeout=5), "/oauth2/token")
    token = check(requests.post(server + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("cid", "sec"), timeout=5), "/oauth2/token")
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    path = "/v1/ai-detector/detect"
    check(requests.post(server + path, headers=bearer, files={"file": ("s.mp3", mp3.read_bytes())}, timeout=30), path)
    check(requests.post(server + path, headers=bearer, files={"file": ("s.mp3", b"junk" * 100)}, timeout=30), path)
    check(requests.post(server + path, files={"file": ("s.mp3", b"x")}, timeout=30), path)
    check(requests.post(server + path + "-url", headers=bearer, data={"url": "http://127.0.0.1:1/x.mp3"}, timeout=30), path + "-url")


def test_mippia_answers_and_webhooks(server, mp3):
    auth = {"Authorization": f"Bearer {KEY}"}
    up = check(requests.post(server + "/api/v1/music", headers=auth, files={"file": ("song.mp3", mp3.read_bytes())}, timeout=30), "/api/v1/music")
    task_ids = []
    for tier in ("lite", "standard", "pro", "pro-v2"):
        created = check(requests.post(f"{server}/api/v1/ai-detection/{tier}", headers=auth, json=up.json(), timeout=5), "/api/v1/ai-detection/{model_name}")
        task_ids.append(created.json()["task_id"])
    for task_id in task_ids:
        url = f"{server}/api/v1/task/result/{task_id}"
        check(requests.get(url, headers=auth, timeout=5), "/api/v1/task/result/{task_id}")
        done = _wait(lambda url=url: (r := requests.get(url, headers=auth, timeout=5)).json()["status"] == "success" and r)
        check(done, "/api/v1/task/result/{task_id}")
    check(requests.get(f"{server}/api/v1/task/result/task_x", headers=auth, timeout=5), "/api/v1/task/result/{task_id}")
    check(requests.post(server + "/api/v1/music", headers={"Authorization": "Bearer no"}, files={"file": ("a.mp3", b"1")}, timeout=5), "/api/v1/music")
    webhook = OPENAPI["paths"]["/api/v1/ai-detection/{model_name}"]["post"]["callbacks"]["taskUpdate"]["{$webhook_url}"]["post"]
    schema = webhook["requestBody"]["content"]["application/json"]["schema"]
    _wait(lambda: sum(b["status"] == "success" for b in WEBHOOKS) >= len(task_ids))
    for body in WEBHOOKS:
        _validate(body, schema)


def test_undetectable_answers(server, mp3):
    presign = check(requests.get(server + "/get-presigned-url", params={"file_name": "s.mp3"}, headers={"apikey": KEY}, timeout=5), "/get-presigned-url")
    check(requests.get(server + "/get-presigned-url", params={"file_name": "s.mp3"}, headers={"apikey": "no"}, timeout=5), "/get-presigned-url")
    url, file_path = presign.json()["presigned_url"], presign.json()["file_path"]
    check(requests.put(url, data=mp3.read_bytes(), headers={"Content-Type": "text/plain"}, timeout=5), "/uploads/{folder}/{name}")
    check(requests.put(url, data=mp3.read_bytes(), headers={"Content-Type": "audio/mpeg"}, timeout=5), "/uploads/{folder}/{name}")
    created = check(requests.post(server + "/detect", json={"key": KEY, "url": file_path}, timeout=5), "/detect")
    check(requests.post(server + "/detect", json={"key": KEY}, timeout=5), "/detect")
    query = lambda: requests.post(server + "/query", json={"id": created.json()["id"]}, timeout=5)
    check(query(), "/query")
    check(_wait(lambda: (r := query()).json()["status"] == "done" and r), "/query")
    check(requests.post(server + "/query", json={"id": "nope"}, timeout=5), "/query")
    check(requests.get(server + "/check-user-credits", headers={"apikey": KEY}, timeout=5), "/check-user-credits")


async def _ws_messages(url: str, data: bytes) -> list[dict]:
    async with websockets.connect(url) as ws:
        if data:
            await ws.send(data)
            await ws.send("")
        messages = []
        try:
            async for m in ws:
                messages.append(json.loads(m))
        except websockets.ConnectionClosedError:
            pass
        return messages


@pytest.mark.parametrize(
    ("channel", "query", "with_audio"),
    [
        ("aiMusicStreaming", "audio_format=mp3", True),
        ("aiMusicStreaming", "audio_format=s16le", False),
        ("musicSpeechStreaming", "audio_format=mp3", True),
        ("musicSpeechStreaming", "audio_format=nope", False),
    ],
)
async def test_websocket_messages_match_asyncapi(server, mp3, channel, query, with_audio):
    address = ASYNCAPI["channels"][channel]["address"]
    messages = await _ws_messages(f"{server.replace('http', 'ws')}{address}?api_key={KEY}&{query}", mp3.read_bytes() if with_audio else b"")
    assert messages and (messages[-1]["type"] == "done") == with_audio
    for message in messages:
        _validate(message, _message_schema(channel, message["type"]))
