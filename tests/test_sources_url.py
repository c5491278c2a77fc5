"""UrlSource against a real local HTTP server: static files, a dropping live stream, HLS, failures."""

from __future__ import annotations

import asyncio
import http.server
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import audio_fixtures as fx
from streamer.audio.source import SourceError
from streamer.audio.sources import UrlSource, open_source
from streamer.backoff import Backoff
from streamer.types import SAMPLE_RATE, Gap, PcmBlock, Status


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the test directory, plus ``/live``: an endless-looking MP3 stream that drops after ~1 s."""

    live_bytes = b""

    def do_GET(self) -> None:
        if self.path != "/live":
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.end_headers()  # no Content-Length: like Icecast, the length is unknown
        self.wfile.write(self.live_bytes)
        # Returning closes the connection: the broadcast "drops".

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("www")
    fx.encode(root / "song.mp3", fx.music(3.0), 44100, "mp3")
    fx.encode(root / "radio.mp3", fx.music(2.0), 44100, "mp3")
    (root / "hls").mkdir()
    fx.encode(root / "hls" / "index.m3u8", fx.music(3.5), 44100, "hls")
    # A listener joins a broadcast mid-stream: skip the first frames (and the Xing length header).
    handler = type("Handler", (_Handler,), {"live_bytes": (root / "radio.mp3").read_bytes()[2000:]})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def fast(url: str, **kwargs) -> UrlSource:
    """A source with test-sized backoff and timeouts."""
    return UrlSource(url, backoff=Backoff(base_s=0.05, cap_s=0.2), timeout_s=2.0, **kwargs)


def assert_contiguous(events: list) -> int:
    frame = 0
    for event in events:
        assert event.start_frame == frame
        frame += event.frames
    return frame


async def test_static_file_over_http_ends_at_its_end(server) -> None:
    base, _ = server
    source = fast(f"{base}/song.mp3")
    events = [e async for e in source.events()]
    assert abs(assert_contiguous(events) - 3 * SAMPLE_RATE) <= 1152
    assert source.reconnects == 0 and source.gap_seconds == 0


async def test_dropped_live_stream_reconnects_with_a_gap(server) -> None:
    base, _ = server
    source = fast(f"{base}/live")
    events = []
    async for event in source.events():
        events.append(event)
        if source.reconnects >= 2 and isinstance(event, PcmBlock):
            break
    assert_contiguous(events)
    gaps = [e for e in events if isinstance(e, Gap)]
    assert [g.reason for g in gaps] == ["reconnect", "reconnect"]
    # The gap is the wall-clock time lost: at least one backoff (≥ 25 ms), well under the cap plus a connect.
    assert all(0.02 * SAMPLE_RATE <= g.frames <= 1.0 * SAMPLE_RATE for g in gaps)
    assert source.gap_seconds == pytest.approx(sum(g.seconds for g in gaps))
    # Audio before, between and after the drops: each connection delivers ~1.9 s of the broadcast.
    assert sum(e.frames for e in events if isinstance(e, PcmBlock)) > 3.5 * SAMPLE_RATE


async def test_hls_playlist(server) -> None:
    base, _ = server
    source = open_source(f"{base}/hls/index.m3u8")
    assert isinstance(source, UrlSource)
    events = [e async for e in source.events()]
    assert abs(assert_contiguous(events) - 3.5 * SAMPLE_RATE) <= 2048


async def test_icecast_scheme_is_http(server) -> None:
    base, _ = server
    source = open_source(base.replace("http://", "icecast://") + "/song.mp3")
    assert isinstance(source, UrlSource) and source.url.startswith("http://")


async def test_404_on_first_connect_is_not_found(server) -> None:
    base, _ = server
    with pytest.raises(SourceError) as caught:
        [e async for e in fast(f"{base}/missing.mp3").events()]
    assert caught.value.status is Status.NOT_FOUND


async def test_refused_connection_is_not_found() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError) as caught:
        [e async for e in fast(f"http://127.0.0.1:{port}/stream").events()]
    assert caught.value.status is Status.NOT_FOUND


async def test_silent_server_times_out_as_not_found() -> None:
    with socket.socket() as mute:  # accepts connections (backlog) but never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        source = UrlSource(f"http://127.0.0.1:{mute.getsockname()[1]}/stream", timeout_s=0.5)
        with pytest.raises(SourceError) as caught:
            [e async for e in source.events()]
    assert caught.value.status is Status.NOT_FOUND


async def test_gives_up_after_max_retries(server) -> None:
    base, _ = server
    source = fast(f"{base}/live", max_retries=0)
    events = [e async for e in source.events()]  # one connection, then no retry budget: the source ends
    assert source.reconnects == 0 and all(isinstance(e, PcmBlock) for e in events)


async def test_retry_forever_waits_for_a_stream_that_appears_later(server) -> None:
    base, root = server
    song = (root / "song.mp3").read_bytes()

    def publish() -> None:  # atomically, so the source never reads half a file
        (root / "later.part").write_bytes(song)
        (root / "later.part").rename(root / "later.mp3")

    asyncio.get_running_loop().call_later(0.3, publish)
    source = fast(f"{base}/later.mp3", retry_forever=True)
    events = [e async for e in source.events()]
    assert abs(assert_contiguous(events) - 3 * SAMPLE_RATE) <= 1152
    assert source.reconnects == 0  # nothing was lost: the stream had not started yet


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    backoff, rng = Backoff(base_s=0.5, cap_s=30.0), random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (20, 30.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not lockstep
