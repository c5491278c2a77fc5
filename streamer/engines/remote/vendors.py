"""The four file vendors' request flows: submit one encoded clip, get one :class:`ClipResult`.

Each judge owns its vendor's auth dance (Pex OAuth token cached until expiry,
Mippia upload → task → poll, Undetectable credits → presign → PUT → detect →
poll); :mod:`.http` owns retries, :mod:`.results` the parsing.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp

from ...vendors.modulate import WireFormatError
from ..base import EngineError
from .connection import HttpClient
from .http import Reply, fail, request
from .results import (
    ClipResult,
    parse_mippia,
    parse_modulate_batch,
    parse_pex,
    parse_undetectable,
)
from .settings import RemoteEngineSettings

#: Content types of the clip formats we encode.
CONTENT_TYPES = {"flac": "audio/flac", "mp3": "audio/mpeg"}
#: Renew a Pex token this long before it expires, so no request carries a dying one.
TOKEN_MARGIN_S = 60.0


class ClipJudge(Protocol):
    name: str
    model_version: str
    #: Shortest clip the vendor accepts (Pex: 10 s); a shorter tail joins the clip before it.
    min_clip_s: float
    #: Largest upload the vendor accepts, or None.
    max_bytes: int | None
    http: HttpClient

    async def judge(self, audio: bytes, file_name: str, seconds: float) -> ClipResult: ...


def _form(field: str, audio: bytes, file_name: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field(field, audio, filename=file_name, content_type=CONTENT_TYPES[file_name.rsplit(".", 1)[1]])
        return {"data": form}

    return build


def _parsed(engine: str, parse: Callable[[Any], ClipResult | None], body: Any) -> ClipResult | None:
    """Parse a vendor answer, turning an undocumented shape into one clear engine error."""
    try:
        return parse(body)
    except WireFormatError as exc:
        raise EngineError(f"{engine}: unexpected answer: {exc}") from None


class _Base:
    name: str
    model_version: str
    min_clip_s = 1.0
    max_bytes: int | None = None
    #: False for Pex, which authenticates with OAuth client credentials instead.
    needs_api_key = True

    def __init__(self, remote: RemoteEngineSettings, ai_threshold: float) -> None:
        self.remote = remote
        self.base = remote.base_url(self.name)
        self.http = HttpClient(remote.request_timeout_s)
        self._threshold = ai_threshold
        if self.needs_api_key:
            self._key()  # fail at start-up, not at the first clip

    def _key(self) -> str:
        if self.remote.api_key is None:
            raise ValueError(f"the {self.name} engine needs an API key: --api-key or AIMD_API_KEY")
        return self.remote.api_key.get_secret_value()

    async def _send(self, method: str, path_or_url: str, what: str, make_kwargs: Callable[[], dict[str, Any]] = dict) -> Reply:
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        return await request(self.http, self.name, self.remote, method, url, what, make_kwargs)

    async def _json(self, method: str, path: str, what: str, make_kwargs: Callable[[], dict[str, Any]] = dict) -> Any:
        reply = await self._send(method, path, what, make_kwargs)
        if not reply.ok:
            raise fail(self.name, what, reply)
        return reply.body

    async def _poll(self, what: str, poll: Callable[[], Awaitable[Any]], parse: Callable[[Any], ClipResult | None]) -> ClipResult:
        """Poll until the task ends; a task still pending after ``task_timeout_s`` is an error."""
        deadline = time.monotonic() + self.remote.task_timeout_s
        while True:
            body = await poll()
            if (result := _parsed(self.name, parse, body)) is not None:
                return result
            if time.monotonic() + self.remote.poll_interval_s > deadline:
                raise EngineError(f"{self.name}: {what} still pending after {self.remote.task_timeout_s:g} s", retryable=True)
            await asyncio.sleep(self.remote.poll_interval_s)


class PexJudge(_Base):
    """OAuth2 client credentials; the token is reused until shortly before expiry and renewed on a 401."""

    name = "pex"
    model_version = "pex-ai-song-detector"
    min_clip_s = 10.0  # the current docs' minimum (older ones say 15 or 30 s)
    max_bytes = 100 * 1024 * 1024
    needs_api_key = False

    def __init__(self, remote: RemoteEngineSettings, ai_threshold: float) -> None:
        super().__init__(remote, ai_threshold)
        if not remote.client_id or remote.client_secret is None:
            raise ValueError("the pex engine needs OAuth client credentials: --client-id/--client-secret or AIMD_PEX_CLIENT_ID/_SECRET")
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token[1]:
            return self._token[0]
        secret = self.remote.client_secret.get_secret_value()  # type: ignore[union-attr]
        basic = base64.b64encode(f"{self.remote.client_id}:{secret}".encode()).decode()
        body = await self._json("POST", "/oauth2/token", "token request", lambda: {
            "data": {"grant_type": "client_credentials"}, "headers": {"Authorization": f"Basic {basic}"}})  # fmt: skip
        try:
            token, ttl = str(body["access_token"]), float(body.get("expires_in", 7200))
        except (KeyError, TypeError, ValueError):
            raise EngineError("pex: token answer without access_token") from None
        self._token = (token, time.monotonic() + max(0.0, ttl - TOKEN_MARGIN_S))
        return token

    async def judge(self, audio: bytes, file_name: str, seconds: float) -> ClipResult:
        for renewed in (False, True):
            token = await self._access_token()
            form, bearer = _form("file", audio, file_name), {"Authorization": f"Bearer {token}"}
            reply = await self._send("POST", "/v1/ai-detector/detect", "detect", lambda f=form, h=bearer: {**f(), "headers": h})
            if reply.status == 401 and not renewed:
                self._token = None  # expired or revoked early: authenticate again, once
                continue
            if not reply.ok:
                raise fail(self.name, "detect", reply)
            return _parsed(self.name, parse_pex, reply.body)  # type: ignore[return-value]
        raise AssertionError("unreachable")


class ModulateBatchJudge(_Base):
    name = "modulate-batch"
    model_version = "velma-2"
    max_bytes = 100 * 1024 * 1024

    async def judge(self, audio: bytes, file_name: str, seconds: float) -> ClipResult:
        form = _form("upload_file", audio, file_name)
        body = await self._json("POST", "/api/velma-2-ai-music-detection-batch", "batch request",
                                lambda: {**form(), "headers": {"X-API-Key": self._key()}})  # fmt: skip
        return _parsed(self.name, lambda b: parse_modulate_batch(b, ai_threshold=self._threshold), body)  # type: ignore[return-value]


class MippiaJudge(_Base):
    """Upload, start a task on the configured model tier, poll its result (webhooks need a public URL)."""

    name = "mippia"
    model_version = "mippia"

    def __init__(self, remote: RemoteEngineSettings, ai_threshold: float) -> None:
        super().__init__(remote, ai_threshold)
        self.model_version = f"mippia-{remote.mippia_model}"

    def _auth(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self._key()}"}}

    async def judge(self, audio: bytes, file_name: str, seconds: float) -> ClipResult:
        form = _form("file", audio, file_name)
        music = await self._json("POST", "/api/v1/music", "upload", lambda: {**form(), **self._auth()})
        task = await self._json("POST", f"/api/v1/ai-detection/{self.remote.mippia_model}", "detection request",
                                lambda: {"json": {"musicId": _field(self.name, music, "musicId")}, **self._auth()})  # fmt: skip
        task_id = _field(self.name, task, "task_id", "taskId")
        return await self._poll(f"task {task_id}", lambda: self._json("GET", f"/api/v1/task/result/{task_id}", "result poll", self._auth),
                                lambda body: parse_mippia(body, ai_threshold=self._threshold))  # fmt: skip


class UndetectableJudge(_Base):
    """Credits check, presigned upload, detect, then poll ``/query`` (which takes no key)."""

    name = "undetectable"
    model_version = "undetectable-audio"
    max_bytes = 10 * 1024 * 1024

    async def judge(self, audio: bytes, file_name: str, seconds: float) -> ClipResult:
        apikey = {"headers": {"apikey": self._key()}}
        credits = await self._json("GET", "/check-user-credits", "credits check", lambda: apikey)
        if isinstance(credits, dict) and isinstance(credits.get("credits"), int | float) and credits["credits"] < seconds:
            raise EngineError(f"undetectable: insufficient credits ({credits['credits']:g} left, {seconds:.0f} s of audio to judge)")
        presigned = await self._json("GET", "/get-presigned-url", "presign", lambda: {**apikey, "params": {"file_name": file_name}})
        upload = await self._send("PUT", _field(self.name, presigned, "presigned_url"), "upload", lambda: {
            "data": audio, "headers": {"Content-Type": CONTENT_TYPES[file_name.rsplit(".", 1)[1]], "x-amz-acl": "private"}})  # fmt: skip
        if not upload.ok:
            raise fail(self.name, "upload", upload)
        body = {"key": self._key(), "url": _field(self.name, presigned, "file_path"), "document_type": "Audio"}
        task = await self._json("POST", "/detect", "detect", lambda: {"json": body})
        task_id = _field(self.name, task, "id")
        return await self._poll(f"task {task_id}", lambda: self._json("POST", "/query", "query", lambda: {"json": {"id": task_id}}),
                                lambda answer: parse_undetectable(answer, ai_threshold=self._threshold))  # fmt: skip


def _field(engine: str, body: Any, *names: str) -> str:
    """A required string field (any of its documented spellings)."""
    for name in names:
        if isinstance(body, dict) and isinstance(body.get(name), str) and body[name]:
            return body[name]
    raise EngineError(f"{engine}: answer without {names[0]}")


def clip_judge(engine: str, remote: RemoteEngineSettings, ai_threshold: float) -> ClipJudge:
    """The judge for a clip engine name. Raises ValueError on missing credentials."""
    judges = {"pex": PexJudge, "modulate-batch": ModulateBatchJudge, "mippia": MippiaJudge, "undetectable": UndetectableJudge}
    return judges[engine](remote, ai_threshold)
