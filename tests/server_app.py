"""The real ``aimd serve`` app on loopback, for the server and remote-engine tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from streamer.server.app import create_app
from streamer.server.settings import ServerSettings


@contextmanager
def running_app(app: web.Application, host: str, port: int) -> Iterator[str]:
    """``app`` in a background event loop; yields ``host:port``. Stopping runs the app's cleanup."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, host, port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"{host}:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def running_server(settings: ServerSettings):
    return running_app(create_app(settings), settings.host, settings.port)
