"""Turn a request's :class:`RequestError` (and upload failures) into the FastAPI-style answer the vendors give."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from ..vendors.errors import RequestError, detail_body
from .uploads import MissingField, UploadTooLarge


class RateLimited(Exception):
    """Too many requests from one key: 429 with ``Retry-After``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


def answers_request_errors(handler):
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RequestError as exc:
            return web.json_response(detail_body(str(exc)), status=exc.http_status)
        except MissingField as exc:
            return web.json_response(detail_body(f"field '{exc.field}' is required"), status=422)
        except UploadTooLarge:
            return web.json_response(detail_body("file too large"), status=413)
        except RateLimited as exc:
            headers = {"Retry-After": str(exc.retry_after_s)}
            return web.json_response(detail_body("Rate limit exceeded. Please slow down."), status=429, headers=headers)

    return wrapped


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise RequestError("body must be JSON") from None
