"""A live HLS stream (ffmpeg writing segments as it goes, a local HTTP server) under supervision.

Segments arrive in 2 s bursts, longer than the 1.5 s watchdog: the coverage-based
watchdog must ride them out, yet notice when the segments stop coming.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import audio_fixtures as fx
import pytest
from test_service_supervision import FAST, assert_continuous, audio_seconds, supervise

from streamer.service.machine import SourceState
from streamer.types import Gap

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg"), reason="needs the ffmpeg binary (Debian package ffmpeg)")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def live_hls(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    song = fx.encode(tmp_path / "song.mp3", fx.music(6.0), 44100, "mp3")
    www = tmp_path / "www"
    www.mkdir()
    encoder = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(song),
         "-c:a", "aac", "-b:a", "96k", "-f", "hls", "-hls_time", "2", "-hls_list_size", "4",
         "-hls_flags", "delete_segments", str(www / "live.m3u8")],
    )  # fmt: skip
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    deadline = time.monotonic() + 15
    while not (www / "live.m3u8").exists() or len(list(www.glob("*.ts"))) < 2:
        assert time.monotonic() < deadline, "ffmpeg wrote no HLS segments"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{httpd.server_address[1]}/live.m3u8", encoder
    encoder.kill()
    encoder.wait()
    httpd.shutdown()
    httpd.server_close()


async def test_live_hls_segment_bursts_keep_time_and_a_stalled_encoder_is_noticed(live_hls) -> None:
    url, encoder = live_hls
    run = await supervise(url, kind="hls")
    try:
        started = await run.wait_state(SourceState.RUNNING, 15)
        await asyncio.sleep(6.0)  # three segment bursts, each longer than the watchdog
        assert [s for _, s in run.states] == [SourceState.STARTING, SourceState.RUNNING]
        # Stream time keeps pace with the wall clock: bursts neither stretch nor squeeze it.
        heard = audio_seconds(run.events)
        assert time.monotonic() - started - 3.0 <= heard <= time.monotonic() - started + 9.0
        encoder.kill()  # the playlist stops growing: only the watchdog can tell
        stalled_at = time.monotonic()
        tripped = await run.wait_state(SourceState.RECONNECTING, 20)
        assert tripped - stalled_at <= 8.0 + FAST.watchdog_s  # buffered segments, then the watchdog
    finally:
        await run.stop()
    assert not [e for e in run.events if isinstance(e, Gap)]
    assert_continuous(run.events)
