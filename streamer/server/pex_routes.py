"""Pex AI Song Detector: OAuth2 token endpoint and the two detect endpoints."""

from __future__ import annotations

import logging
from urllib.parse import urlparse

import aiohttp
from aiohttp import web
from yarl import URL

from ..types import Status
from ..vendors import pex
from .analysis import analyse_file
from .auth import OverLimit
from .context import ServerContext
from .fetch_guard import ForbiddenAddress, PublicOnlyResolver, check_literal_host
from .quotas import QuotaExceeded
from .settings import Api
from .uploads import (
    CHUNK,
    MissingField,
    Upload,
    UploadTooLarge,
    copy_stream,
    read_form,
    receive_file_field,
)

TOKEN_PATH = "/oauth2/token"
DETECT_PATH = "/v1/ai-detector/detect"
DETECT_URL_PATH = "/v1/ai-detector/detect-url"
FETCH_TIMEOUT_S = 30.0
MAX_REDIRECTS = 5
log = logging.getLogger(__name__)


async def token(request: web.Request) -> web.Response:
    ctx = ServerContext.of(request)
    form = await read_form(request)
    if form.get("grant_type") != "client_credentials":
        return web.json_response(pex.oauth_error("unsupported_grant_type", "grant_type must be client_credentials"), status=400)
    try:
        client_id, secret = pex.parse_basic_auth(request.headers.get("Authorization"))
    except pex.CredentialsError as exc:
        return web.json_response(pex.oauth_error("invalid_client", str(exc)), status=401)
    if not ctx.credentials.pex_client(client_id, secret):
        return web.json_response(pex.oauth_error("invalid_client", "unknown client or wrong secret"), status=401)
    return web.json_response(pex.token_response(ctx.credentials.issue_token(client_id, pex.TOKEN_TTL_S)))


def _error(status: int, message: str) -> web.Response:
    return web.json_response(pex.error_body(message), status=status)


async def detect(request: web.Request) -> web.Response:
    return await _detect(request, lambda ctx: receive_file_field(request, "file", ctx.settings.max_upload_bytes))


async def detect_url(request: web.Request) -> web.Response:
    async def fetch(ctx: ServerContext) -> Upload | Status:
        form = await read_form(request)
        url = form.get("url")
        if not isinstance(url, str) or not url:
            raise MissingField("url")
        return await _download(url, ctx.settings.max_upload_bytes, allow_private=ctx.settings.pex_fetch_private)

    return await _detect(request, fetch)


async def _detect(request: web.Request, receive) -> web.Response:
    ctx = ServerContext.of(request)
    principal = ctx.credentials.token_principal(pex.parse_bearer(request.headers.get("Authorization")))
    if principal is None:
        return _error(401, "Missing or invalid OAuth token.")
    request_id = pex.new_request_id()
    try:
        await ctx.quotas.admit(principal, Api.PEX)
        with ctx.credentials.slot(principal):
            upload = await receive(ctx)
            if isinstance(upload, Status):
                return _json(pex.status_response(request_id, upload))
            try:
                if upload.size == 0:
                    return _json(pex.status_response(request_id, Status.INVALID_FILE))
                summary = await analyse_file(upload.path, ctx.engine, _pex_analysis(ctx))
            finally:
                upload.discard()
        await ctx.quotas.charge(principal, Api.PEX, summary.duration_s)
    except QuotaExceeded:
        return _error(429, "Monthly audio quota used up; retry next month.")
    except OverLimit:
        return _error(429, "Too many requests in flight; retry with backoff.")
    except MissingField as exc:
        return _error(400, f"Missing field '{exc.field}'.")
    except UploadTooLarge:
        return _error(413, "File too large (over 100 MB).")
    return _json(pex.detect_response(request_id, summary))


def _json(body: dict) -> web.Response:
    # request_id is an int64 beyond 2**53: json.dumps writes it exactly (no float rounding).
    return web.json_response(body)


def _pex_analysis(ctx: ServerContext):
    accept = ctx.settings.analysis.accept.model_copy(
        update={"min_duration_s": ctx.settings.pex_min_duration_s, "max_duration_s": ctx.settings.pex_max_duration_s}
    )
    return ctx.settings.analysis.model_copy(update={"accept": accept})


async def _download(url: str, limit: int, *, allow_private: bool) -> Upload | Status:
    """Fetch a directly downloadable URL into a temporary file; unfetchable or forbidden → ``not_found``."""
    connector = aiohttp.TCPConnector(resolver=None if allow_private else PublicOnlyResolver())
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S), connector=connector) as client:
            for _ in range(MAX_REDIRECTS + 1):
                parsed = urlparse(url)
                if parsed.scheme not in ("http", "https") or not parsed.hostname:
                    return Status.NOT_FOUND
                if not allow_private:
                    check_literal_host(parsed.hostname)
                async with client.get(url, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = str(resp.url.join(URL(resp.headers["Location"])))
                        continue
                    if resp.status != 200:
                        return Status.NOT_FOUND
                    path, size = await copy_stream(lambda: resp.content.read(CHUNK), limit)
                    return Upload(path, parsed.path.rsplit("/", 1)[-1], size)
    except UploadTooLarge:
        raise
    except ForbiddenAddress as exc:
        log.info("detect-url refused: %s", exc)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        pass
    return Status.NOT_FOUND
