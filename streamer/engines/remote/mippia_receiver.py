"""The HTTP server MIPPIA's webhooks reach: one per listen address and process.

MIPPIA has one callback URL per account, so every mippia engine of a process
(several sources, a reload that changed a setting) shares one receiver; it is
reference-counted and closes with its last user. The socket is bound when the
first engine is built, so a taken port is a start-up error, and served from
the first task on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from .mippia_webhook import answer

log = logging.getLogger(__name__)
#: Results that arrived before anyone asked for them (a webhook can beat the submit answer), kept this many.
EARLY_RESULTS = 256


class WebhookReceiver:
    def __init__(self, host: str, port: int, path: str, secret: bytes) -> None:
        self.path = path
        self.secret = secret
        try:
            self._sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        except OSError as exc:
            raise ValueError(f"cannot listen for MIPPIA webhooks on {host}:{port}: {os.strerror(exc.errno or 0)}") from None
        self._sock.setblocking(False)
        self._runner: web.AppRunner | None = None
        self._starting = asyncio.Lock()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._early: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.users = 0

    async def start(self) -> None:
        """Serve the socket (idempotent)."""
        async with self._starting:
            if self._runner is not None:
                return
            app = web.Application()
            app.router.add_post(self.path, self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.SockSite(runner, self._sock).start()
            self._runner = runner

    @contextlib.contextmanager
    def expect(self, task_id: str) -> Iterator[asyncio.Future[dict[str, Any]]]:
        """A future for the final webhook body of ``task_id``, while the ``with`` block lasts."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if (body := self._early.pop(task_id, None)) is not None:
            future.set_result(body)
        self._waiting[task_id] = future
        try:
            yield future
        finally:
            self._waiting.pop(task_id, None)

    async def _handle(self, request: web.Request) -> web.Response:
        reply = answer(self.secret, await request.read(), request.headers, time.time())
        if reply.status != 200:
            log.warning("refused a MIPPIA webhook from %s: %s", request.remote, reply.body["error"])
        elif reply.result is not None:
            self._deliver(*reply.result)
        return web.json_response(reply.body, status=reply.status)

    def _deliver(self, task_id: str, body: dict[str, Any]) -> None:
        future = self._waiting.get(task_id)
        if future is None:
            self._early[task_id] = body
            while len(self._early) > EARLY_RESULTS:
                self._early.popitem(last=False)
        elif not future.done():
            future.set_result(body)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._sock.close()


_receivers: dict[tuple[str, int], WebhookReceiver] = {}


def acquire(host: str, port: int, path: str, secret: bytes) -> WebhookReceiver:
    """The process's receiver on ``host:port``, created on first use. Raises ValueError on a clash."""
    receiver = _receivers.get((host, port))
    if receiver is None:
        receiver = _receivers[(host, port)] = WebhookReceiver(host, port, path, secret)
    elif (receiver.path, receiver.secret) != (path, secret):
        raise ValueError(f"{host}:{port} already receives MIPPIA webhooks for another callback path or secret "
                         "(MIPPIA has one callback URL per account)")  # fmt: skip
    receiver.users += 1
    return receiver


async def release(receiver: WebhookReceiver) -> None:
    receiver.users -= 1
    if receiver.users == 0:
        _receivers.pop(next(k for k, v in _receivers.items() if v is receiver))
        await receiver.aclose()
