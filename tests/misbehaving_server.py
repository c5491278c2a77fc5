"""A small scripted vendor for fault injection: Modulate streaming, Pex, Mippia and Undetectable routes.

Each WebSocket connection takes the next step of ``ws_plan`` (then behaves);
each HTTP route answers from its queue in ``http_plan`` (then behaves). It
answers with the vendors' documented example payloads, so the faults are the
only thing that differ from a good vendor.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import WSMsgType, web
from server_app import running_app
from services import free_port

#: vendor-protocols.md §1.4 example window and done messages.
WINDOW = {"start_time_ms": 0, "end_time_ms": 4000, "vocal_percentage": 87.5, "vocal_ai_percentage": 100,
          "vocal_ai_confidence": 0.97, "instrumental_percentage": 64.3, "silence_percentage": 3.5}  # fmt: skip
DONE = {"type": "done", "duration_ms": 89280, "window_count": 22, "primary_verdict": "ai-vocal-music", "vocal_percentage": 87.5,
        "vocal_ai_percentage": 56.5, "vocal_ai_confidence": 0.96, "instrumental_percentage": 64.3,
        "instrumental_ai_percentage": 42, "instrumental_ai_confidence": 0.95, "silence_percentage": 3.51}  # fmt: skip
PEX_OK = {"request_id": 806957142976735233, "status": "ok", "message": "ok", "is_ai": True, "ai_score": 0.9992,
          "predicted_model": "suno", "predicted_model_score": 0.9723}  # fmt: skip


class Misbehaving:
    def __init__(self) -> None:
        #: Per WebSocket connection: "ok", "bad_key", "quota", "drop_after_1", "malformed", "missing_fields", "silent".
        self.ws_plan: deque[str] = deque()
        #: Per route: (status, JSON body) answers given before the good ones.
        self.http_plan: dict[str, deque[tuple[int, object]]] = {}
        self.hits: Counter[str] = Counter()
        self.tokens_issued = 0
        self.token_uses: Counter[str] = Counter()
        self.token_max_uses = 10**9  # a token "expires" after this many detects
        self.task_status = "success"  # "pending" keeps tasks pending forever

    def plan(self, route: str, *answers: tuple[int, object]) -> None:
        self.http_plan.setdefault(route, deque()).extend(answers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/velma-2-ai-music-detection-streaming", self._stream)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_post("/v1/ai-detector/detect", self._pex_detect)
        app.router.add_post("/api/v1/music", self._upload)
        app.router.add_post("/api/v1/ai-detection/{model}", self._mippia_detect)
        app.router.add_get("/api/v1/task/result/{task_id}", self._mippia_result)
        return app

    async def _http(self, request: web.Request, route: str, good: object) -> web.Response:
        self.hits[route] += 1
        await request.read()
        queue = self.http_plan.get(route)
        if queue:
            status, body = queue.popleft()
            return web.json_response(body, status=status)
        return web.json_response(good)

    async def _upload(self, request: web.Request) -> web.Response:
        return await self._http(request, "upload", {"musicId": "6f1c9a1e-8a55-4c3e-9d4b-2f1b3f8f0a11"})

    async def _mippia_detect(self, request: web.Request) -> web.Response:
        return await self._http(request, "mippia-detect", {"taskId": "task_1"})  # the quick-start's spelling

    async def _token(self, request: web.Request) -> web.Response:
        self.tokens_issued += 1
        return await self._http(request, "token", {"access_token": f"t{self.tokens_issued}", "token_type": "Bearer", "expires_in": 7200})

    async def _pex_detect(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.token_uses[token] += 1
        if self.token_uses[token] > self.token_max_uses:
            await request.read()
            return web.json_response({"status": "error", "message": "Missing or invalid OAuth token."}, status=401)
        return await self._http(request, "detect", PEX_OK)

    async def _mippia_result(self, request: web.Request) -> web.Response:
        if self.task_status == "pending":
            return await self._http(request, "result", {"task_id": "task_1", "status": "pending", "result": None})
        result = {"song.flac": {"final_result": {"prediction": "fake", "confidence": 0.9},
                                "model_results": []}}  # fmt: skip
        return await self._http(request, "result", {"task_id": "task_1", "status": "success", "model_type": "standard", "result": result})

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        step = self.ws_plan.popleft() if self.ws_plan else "ok"
        self.hits[f"ws:{step}"] += 1
        if step == "bad_key":
            await ws.send_json({"type": "error", "error": "Invalid API key."})
            await ws.close(code=4001)
        elif step == "quota":
            await ws.send_json({"type": "error", "error": "Insufficient credits."})
            await ws.close(code=4029)
        else:
            await self._converse(ws, step)
        return ws

    async def _converse(self, ws: web.WebSocketResponse, step: str) -> None:
        windows = 0
        async for msg in ws:
            if msg.type is WSMsgType.TEXT and msg.data == "":
                await ws.send_json(DONE)
                await ws.close()
                return
            if msg.type is not WSMsgType.BINARY:
                continue
            if step == "drop_after_1" and windows == 1:
                await ws.close(code=1011)  # internal error mid-stream
                return
            if step == "silent":
                continue
            windows += 1
            if step == "malformed":
                await ws.send_str("{not json")
            elif step == "missing_fields":
                await ws.send_str(json.dumps({"type": "window", "window": {"start_time_ms": 0, "end_time_ms": 4000}}))
            else:
                await ws.send_json({"type": "window", "window": WINDOW})


@contextmanager
def misbehaving_server() -> Iterator[tuple[Misbehaving, str]]:
    """The scripted server on loopback; yields it and its ``host:port``."""
    server = Misbehaving()
    with running_app(server.app(), "127.0.0.1", free_port()) as address:
        yield server, address
