"""The four file vendors' request flows: submit one encoded clip, get one :class:`ClipResult`.

Each judge owns its vendor's auth dance (Pex OAuth token cached until expiry,
Mippia upload → task → webhook or poll, Undetectable credits → presign → PUT →
detect → poll); :mod:`.http` owns retries, :mod:`.results` the parsing. The
session judging a clip passes its :class:`~.stats.RequestStats`, so each
request counts for the stream that made it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from ...vendors.modulate import WireFormatError
from ..base import EngineError
from . import mippia_receiver
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
from .stats import RequestStats

log = logging.getLogger(__name__)
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

    async def judge(self, audio: bytes, file_name: str, seconds: float, stats: RequestStats) -> ClipResult: ...

    async def aclose(self) -> None: ...


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

    async def _send(self, method: str, path_or_url: str, what: str, stats: RequestStats,
                    make_kwargs: Callable[[], dict[str, Any]] = dict) -> Reply:  # fmt: skip
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        return await request(self.http, stats, self.remote, method, url, what, make_kwargs)

    async def _json(self, method: str, path: str, what: str, stats: RequestStats,
                    make_kwargs: Callable[[], dict[str, Any]] = dict) -> Any:  # fmt: skip
        reply = await self._send(method, path, what, stats, make_kwargs)
        if not reply.ok:
            raise fail(self.name, what, reply)
        return reply.body

    async def _poll(self, what: str, poll: Callable[[], Awaitable[Any]], parse: Callable[[Any], ClipResult | None],
                    deadline: float) -> ClipResult:  # fmt: skip
        """Poll until the task ends; a task still pending at ``deadline`` (monotonic) is an error."""
        while True:
            body = await poll()
            if (result := _parsed(self.name, parse, body)) is not None:
                return result
            if time.monotonic() + self.remote.poll_interval_s > deadline:
                raise EngineError(f"{self.name}: {what} still pending after {self.remote.task_timeout_s:g} s", retryable=True)
            await asyncio.sleep(self.remote.poll_interval_s)

    async def aclose(self) -> None:
        await self.http.aclose()


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

    async def _access_token(self, stats: RequestStats) -> str:
        if self._token is not None and time.monotonic() < self._token[1]:
            return self._token[0]
        secret = self.remote.client_secret.get_secret_value()  # type: ignore[union-attr]
        basic = base64.b64encode(f"{self.remote.client_id}:{secret}".encode()).decode()
        body = await self._json("POST", "/oauth2/token", "token request", stats, lambda: {
            "data": {"grant_type": "client_credentials"}, "headers": {"Authorization": f"Basic {basic}"}})  # fmt: skip
        try:
            token, ttl = str(body["access_token"]), float(body.get("expires_in", 7200))
        except (KeyError, TypeError, ValueError):
            raise EngineError("pex: token answer without access_token") from None
        self._token = (token, time.monotonic() + max(0.0, ttl - TOKEN_MARGIN_S))
        return token

    async def judge(self, audio: bytes, file_name: str, seconds: float, stats: RequestStats) -> ClipResult:
        for renewed in (False, True):
            token = await self._access_token(stats)
            form, bearer = _form("file", audio, file_name), {"Authorization": f"Bearer {token}"}
            reply = await self._send("POST", "/v1/ai-detector/detect", "detect", stats, lambda f=form, h=bearer: {**f(), "headers": h})
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

    async def judge(self, audio: bytes, file_name: str, seconds: float, stats: RequestStats) -> ClipResult:
        form = _form("upload_file", audio, file_name)
        body = await self._json("POST", "/api/velma-2-ai-music-detection-batch", "batch request", stats,
                                lambda: {**form(), "headers": {"X-API-Key": self._key()}})  # fmt: skip
        return _parsed(self.name, lambda b: parse_modulate_batch(b, ai_threshold=self._threshold), body)  # type: ignore[return-value]


class MippiaJudge(_Base):
    """Upload, start a task on the configured model tier, then wait for its webhook or poll its result.

    MIPPIA takes no callback per request: the callback URL is registered once
    in its dashboard (``aimd serve``: ``mippia_webhook_url``). With
    ``mippia_webhook_url`` set we receive there and poll only when no webhook
    came within ``webhook_wait_s``, so a lost webhook costs time, not the clip.
    """

    name = "mippia"
    model_version = "mippia"

    def __init__(self, remote: RemoteEngineSettings, ai_threshold: float) -> None:
        super().__init__(remote, ai_threshold)
        self.model_version = f"mippia-{remote.mippia_model}"
        self._webhooks: mippia_receiver.WebhookReceiver | None = None
        if remote.mippia_webhook_url is not None:
            if remote.mippia_webhook_secret is None:
                raise ValueError("MIPPIA webhooks need the webhook secret: mippia_webhook_secret or AIMD_MIPPIA_WEBHOOK_SECRET")
            path = urlsplit(remote.mippia_webhook_url).path or "/"
            secret = remote.mippia_webhook_secret.get_secret_value().encode()
            self._webhooks = mippia_receiver.acquire(*remote.listen_address(), path, secret)
            log.info("mippia: receiving webhooks on %s%s; %s must be the callback URL in MIPPIA's dashboard",
                     remote.mippia_webhook_listen, path, remote.mippia_webhook_url)  # fmt: skip

    def _auth(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self._key()}"}}

    async def judge(self, audio: bytes, file_name: str, seconds: float, stats: RequestStats) -> ClipResult:
        if self._webhooks is not None:
            await self._webhooks.start()
        form = _form("file", audio, file_name)
        music = await self._json("POST", "/api/v1/music", "upload", stats, lambda: {**form(), **self._auth()})
        task = await self._json("POST", f"/api/v1/ai-detection/{self.remote.mippia_model}", "detection request", stats,
                                lambda: {"json": {"musicId": _field(self.name, music, "musicId")}, **self._auth()})  # fmt: skip
        task_id = _field(self.name, task, "task_id", "taskId")
        deadline = time.monotonic() + self.remote.task_timeout_s
        if (result := await self._delivered(task_id)) is not None:
            return result
        return await self._poll(f"task {task_id}", lambda: self._json("GET", f"/api/v1/task/result/{task_id}", "result poll", stats, self._auth),
                                self._parse, deadline)  # fmt: skip

    def _parse(self, body: Any) -> ClipResult | None:
        return parse_mippia(body, ai_threshold=self._threshold)

    async def _delivered(self, task_id: str) -> ClipResult | None:
        """The task's result by webhook, or None (webhooks off, or none within ``webhook_wait_s``: poll instead)."""
        if self._webhooks is None:
            return None
        wait_s = min(self.remote.webhook_wait_s, self.remote.task_timeout_s)
        with self._webhooks.expect(task_id) as delivered:
            try:
                async with asyncio.timeout(wait_s):
                    return _parsed(self.name, self._parse, await delivered)
            except TimeoutError:
                log.warning("mippia: no webhook for task %s within %g s; polling instead", task_id, wait_s)
                return None

    async def aclose(self) -> None:
        await super().aclose()
        if self._webhooks is not None:
            webhooks, self._webhooks = self._webhooks, None
            await mippia_receiver.release(webhooks)


class UndetectableJudge(_Base):
    """Credits check, presigned upload, detect, then poll ``/query`` (which takes no key)."""

    name = "undetectable"
    model_version = "undetectable-audio"
    max_bytes = 10 * 1024 * 1024

    async def judge(self, audio: bytes, file_name: str, seconds: float, stats: RequestStats) -> ClipResult:
        apikey = {"headers": {"apikey": self._key()}}
        credits = await self._json("GET", "/check-user-credits", "credits check", stats, lambda: apikey)
        if isinstance(credits, dict) and isinstance(credits.get("credits"), int | float) and credits["credits"] < seconds:
            raise EngineError(f"undetectable: insufficient credits ({credits['credits']:g} left, {seconds:.0f} s of audio to judge)")
        presigned = await self._json("GET", "/get-presigned-url", "presign", stats, lambda: {**apikey, "params": {"file_name": file_name}})
        upload = await self._send("PUT", _field(self.name, presigned, "presigned_url"), "upload", stats, lambda: {
            "data": audio, "headers": {"Content-Type": CONTENT_TYPES[file_name.rsplit(".", 1)[1]], "x-amz-acl": "private"}})  # fmt: skip
        if not upload.ok:
            raise fail(self.name, "upload", upload)
        body = {"key": self._key(), "url": _field(self.name, presigned, "file_path"), "document_type": "Audio"}
        task = await self._json("POST", "/detect", "detect", stats, lambda: {"json": body})
        task_id = _field(self.name, task, "id")
        deadline = time.monotonic() + self.remote.task_timeout_s
        return await self._poll(f"task {task_id}", lambda: self._json("POST", "/query", "query", stats, lambda: {"json": {"id": task_id}}),
                                lambda answer: parse_undetectable(answer, ai_threshold=self._threshold), deadline)  # fmt: skip


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
