"""Network streams (Icecast/HTTP radio, HLS, RTSP …) with reconnects that keep stream time true."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from urllib.parse import urlsplit

import av

from ..backoff import Backoff
from ..types import SAMPLE_RATE
from .bridge import LiveBuffer, post
from .decode import NETWORK_TIMEOUT_S, DecodeStats, decode_blocks, open_media
from .live import BufferedLiveSource
from .resample import Resampler
from .source import SourceError

log = logging.getLogger(__name__)


#: ffmpeg's HLS demuxer sleeps up to a target duration inside one read while it waits for the
#: next segment, and a read timeout shorter than that ends a healthy live stream.
HLS_MIN_TIMEOUT_S = 30.0


def normalise_url(url: str) -> str:
    """``icecast://`` is plain HTTP, spelled for humans."""
    return "http://" + url[len("icecast://") :] if url.lower().startswith("icecast://") else url


class UrlSource(BufferedLiveSource):
    """Decode a URL; on a read error or the end of a live stream, reconnect.

    The wall-clock time between losing the stream and hearing it again becomes
    a ``Gap("reconnect")``, so stream time keeps pace with the broadcast. A
    stream with a known length (a remote file, HLS VOD) simply ends at its end.

    The first connection fails fast with ``SourceError(not_found)`` unless
    ``retry_forever``; later losses are retried up to ``max_retries`` times in a
    row (always, with ``retry_forever``), then the source ends.
    """

    def __init__(
        self,
        url: str,
        *,
        max_retries: int = 8,
        retry_forever: bool = False,
        backoff: Backoff = Backoff(),
        timeout_s: float = NETWORK_TIMEOUT_S,
        buffer_s: float = 30.0,
        chunk_s: float = 0.1,
        hls: bool | None = None,
    ) -> None:
        super().__init__(url, buffer_s=buffer_s)
        self.url = url = normalise_url(url)
        if hls is None:  # not told: recognise a playlist by its name
            hls = urlsplit(url).path.lower().endswith((".m3u8", ".m3u"))
        if hls:
            timeout_s = max(timeout_s, HLS_MIN_TIMEOUT_S)
        self.max_retries = max_retries
        self.retry_forever = retry_forever
        self.backoff = backoff
        self.timeout_s = timeout_s
        self.chunk_s = chunk_s
        #: Decoder statistics of the current connection.
        self.stats = DecodeStats()
        self._stop = threading.Event()

    def _start(self, loop: asyncio.AbstractEventLoop, buffer: LiveBuffer) -> None:
        self._stop.clear()
        threading.Thread(target=self._run, args=(loop, buffer), name=f"aimd-url {self.url}", daemon=True).start()

    async def aclose(self) -> None:
        self._stop.set()

    def _run(self, loop: asyncio.AbstractEventLoop, buffer: LiveBuffer) -> None:
        try:
            self._connect_loop(loop, buffer)
        except BaseException as exc:  # surfaces in the consumer, not a dead thread
            post(loop, buffer.end, exc)
        else:
            post(loop, buffer.end)

    def _connect_loop(self, loop: asyncio.AbstractEventLoop, buffer: LiveBuffer) -> None:
        resampler = Resampler()
        lost_at: float | None = None  # monotonic time the stream was lost; None before the first audio
        failures = 0
        while not self._stop.is_set():
            if failures and not self._retry(failures):
                log.warning("%s: giving up after %d failed attempts", self.url, failures)
                return
            try:
                container = open_media(self.url, timeout_s=self.timeout_s)
            except SourceError:
                if lost_at is None and not self.retry_forever:
                    raise
                failures += 1
                continue
            if lost_at is not None:
                post(loop, buffer.push, resampler.gap(round((time.monotonic() - lost_at) * SAMPLE_RATE), "reconnect"))
                self.reconnects += 1
            self.stats = DecodeStats()
            error: Exception | None = None
            try:
                for block in decode_blocks(container, resampler, self.stats, chunk_s=self.chunk_s):
                    if self._stop.is_set():
                        return
                    post(loop, buffer.push, block)
                    failures = 0
            except (OSError, av.error.FFmpegError) as exc:
                error = exc
            finally:
                container.close()
            if tail := resampler.flush():
                post(loop, buffer.push, tail)
            if error is None and self.stats.finite:
                return  # a remote file or VOD playlist that simply ended
            log.info("%s: stream lost (%s), reconnecting", self.url, error or "end of stream")
            lost_at = time.monotonic()
            failures += 1

    def _retry(self, failures: int) -> bool:
        """Wait before the next attempt; False when the retry budget is spent or we are stopping."""
        if not self.retry_forever and failures > self.max_retries:
            return False
        return not self._stop.wait(self.backoff.delay(failures))
