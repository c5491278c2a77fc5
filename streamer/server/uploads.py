"""Stream request bodies to temporary files, enforcing the size limit while reading."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

CHUNK = 256 * 1024

log = logging.getLogger(__name__)
#: What aiohttp raises for a body that does not match its Content-Type (no boundary, bad part headers).
MALFORMED_BODY = (ValueError, AssertionError, HttpProcessingError)


class UploadTooLarge(Exception):
    pass


class MissingField(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(f"multipart field {field!r} is required")
        self.field = field


@dataclass
class Upload:
    path: Path
    filename: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


async def copy_stream(read_chunk, limit: int) -> tuple[Path, int]:
    fd, name = tempfile.mkstemp(prefix="aimd-upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await read_chunk():
                size += len(chunk)
                if size > limit:  # reject now, without reading (or storing) the rest
                    raise UploadTooLarge()
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), size


async def receive_file_field(request: web.Request, field: str, limit: int) -> Upload:
    """Save the multipart part ``field``; raises :class:`MissingField` / :class:`UploadTooLarge`."""
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise UploadTooLarge()
    if not request.content_type.startswith("multipart/"):
        raise MissingField(field)
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == field:
                path, size = await copy_stream(lambda: part.read_chunk(CHUNK), limit)
                return Upload(path, part.filename or "", size)
    except MALFORMED_BODY as exc:
        log.info("malformed multipart upload: %s", exc)
    raise MissingField(field)


async def read_form(request: web.Request) -> Mapping[str, object]:
    """The request's form fields; a malformed body reads as an empty form (the caller then
    answers its own 'missing field' error instead of a 500)."""
    try:
        return await request.post()
    except MALFORMED_BODY as exc:
        log.info("malformed form body: %s", exc)
        return {}


async def receive_body(request: web.Request, limit: int) -> Upload:
    """Save a raw request body (presigned PUT uploads)."""
    if request.content_length is not None and request.content_length > limit:
        raise UploadTooLarge()
    path, size = await copy_stream(lambda: request.content.read(CHUNK), limit)
    return Upload(path, "", size)
