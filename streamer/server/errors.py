"""Turn a request's :class:`RequestError` (and upload failures) into the FastAPI-style answer the vendors give."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from ..vendors.errors import RequestError, detail_body
from .uploads import MissingField, UploadTooLarge


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

    return wrapped


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise RequestError("body must be JSON") from None
