"""A real Icecast2 server on a free loopback port, fed by ffmpeg as a fake radio station.

    with Icecast(tmp_path) as server:                 # icecast2 running, no mounts yet
        station = server.feed("radio.mp3", music_file) # ffmpeg -re, looping, codec copy
        station.url                                    # http://127.0.0.1:<port>/radio.mp3
        station.pause(); station.resume()              # SIGSTOP / SIGCONT the feeder
        station.stop(); station.start()                # the mount disappears / comes back

Raises ``pytest.skip`` when icecast2 or ffmpeg is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from services import _binary, _Service, free_port

ICECAST = "/usr/bin/icecast2"
FFMPEG = "/usr/bin/ffmpeg"
SOURCE_PASSWORD = "test-source"

_CONFIG = """<icecast>
  <location>aimd tests</location>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>{clients}</clients>
    <sources>{sources}</sources>
    <queue-size>1048576</queue-size>
    <source-timeout>{source_timeout}</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>{burst_size}</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths>
    <basedir>{workdir}</basedir>
    <logdir>{workdir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot>{changeowner}</security>
</icecast>
"""


class Station:
    """One mount, fed by an ffmpeg process that loops ``audio`` at real time without re-encoding."""

    def __init__(self, server: Icecast, mount: str, audio: Path, content_type: str) -> None:
        self.server, self.mount, self.audio, self.content_type = server, mount, audio, content_type
        self.url = f"http://127.0.0.1:{server.port}/{mount}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start feeding and wait until the mount answers. A feeder that exits first is started
        again; if the mount never comes, the error carries the feeder's and Icecast's logs."""
        deadline = time.monotonic() + timeout
        self._spawn()
        while self.server.mount_status(self.mount) != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"mount /{self.mount} still absent after {timeout} s; {self._logs()}")
            if self._process is not None and self._process.poll() is not None:
                self._spawn()
            time.sleep(0.05)

    def _spawn(self) -> None:
        target = f"icecast://source:{SOURCE_PASSWORD}@127.0.0.1:{self.server.port}/{self.mount}"
        command = [
            self.server.ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(self.audio),
            "-c", "copy", "-content_type", self.content_type, "-f", _muxer(self.audio), target,
        ]  # fmt: skip
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)

    @property
    def _log(self) -> Path:
        return self.server.workdir / f"feeder-{self.mount.replace('/', '_')}.log"

    def _logs(self) -> str:
        tail = lambda path: path.read_text(errors="replace")[-600:].strip() if path.exists() else "(none)"
        return f"feeder log: {tail(self._log)}; icecast error.log: {tail(self.server.workdir / 'error.log')}"

    def stop(self) -> None:
        """Kill the feeder: Icecast drops the mount and its listeners at once."""
        if self._process is not None:
            self.resume()
            self._process.kill()
            self._process.wait()
            self._process = None

    def pause(self) -> None:
        """Freeze the feeder (SIGSTOP): the mount stays, its listeners get no more data."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)


def _muxer(audio: Path) -> str:
    return {".mp3": "mp3", ".ogg": "ogg", ".opus": "ogg", ".aac": "adts"}[audio.suffix.lower()]


class Icecast(_Service):
    def __init__(
        self, workdir: Path, *, clients: int = 200, source_timeout_s: int = 10, burst_size: int = 65_535
    ) -> None:
        super().__init__()
        self.binary = _binary(ICECAST, "icecast2")
        self.ffmpeg = _binary(FFMPEG, "ffmpeg")
        self.port = free_port()
        self.config = workdir / "icecast.xml"
        # Icecast refuses to run as root: it drops to 'nobody', who cannot reach pytest's
        # private temp dirs, so its logs go to a world-writable dir directly under /tmp.
        as_root = os.geteuid() == 0
        self.workdir = Path(tempfile.mkdtemp(prefix="aimd-icecast-"))
        self.workdir.chmod(0o777)
        changeowner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if as_root else ""
        settings = {
            "clients": clients, "sources": 64, "source_timeout": source_timeout_s, "burst_size": burst_size,
            "password": SOURCE_PASSWORD, "port": self.port, "workdir": self.workdir, "changeowner": changeowner,
        }  # fmt: skip
        self.config.write_text(_CONFIG.format(**settings))
        self.stations: list[Station] = []

    def _command(self) -> list[str]:
        return [self.binary, "-c", str(self.config)]

    def feed(self, mount: str, audio: Path, content_type: str = "audio/mpeg") -> Station:
        station = Station(self, mount, audio, content_type)
        station.start()
        self.stations.append(station)
        return station

    def mount_status(self, mount: str) -> int:
        """HTTP status of a GET of the mount, closed at once (200 live, 404 absent; Icecast has no HEAD)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/{mount}", timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def wait_for_mount(self, mount: str, *, present: bool, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (self.mount_status(mount) == 200) != present:
            if time.monotonic() > deadline:
                raise TimeoutError(f"mount /{mount} still {'absent' if present else 'present'} after {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        for station in self.stations:
            station.stop()
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
