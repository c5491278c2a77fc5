"""Real Mosquitto and Prometheus for tests, on free loopback ports in temp dirs.

    with Mosquitto(tmp_path) as broker:      # broker.url == "mqtt://127.0.0.1:<port>"
                                              # (tls=True, users={...}: mqtts, client certs, passwords)
        broker.stop(); broker.start()         # same port, e.g. to simulate an outage
    async with MqttCollector(broker.port, "aimd/#") as inbox:   # subscribed before it returns
        await inbox.wait_for(lambda msgs: len(msgs) >= 3)
    with Prometheus(tmp_path, targets=["127.0.0.1:9464"], rule_files=[...]) as prom:
        prom.wait_for("up == 1"); prom.query("sum(aimd_windows_analyzed_total)")

Both raise ``pytest.skip`` when their Debian binary is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from wsgiref.simple_server import WSGIServer

import aiomqtt
import pytest
import yaml
from prometheus_client import start_http_server

from streamer.sinks.metrics import Metrics

MOSQUITTO = "/usr/sbin/mosquitto"
PROMETHEUS = "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _binary(path: str, package: str) -> str:
    found = shutil.which(path) or shutil.which(Path(path).name)
    if not found:
        pytest.skip(f"{path} not installed (Debian package {package})")
    return found


class _Service(ABC):
    """A child process we own: started, stopped and restarted on the same port."""

    port: int

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def _command(self) -> list[str]: ...

    def start(self) -> None:
        self._process = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Mosquitto(_Service):
    """``tls=True``: an mqtts listener that requires a client certificate (see
    ``ca_file``, ``client_cert``, ``client_key``); ``users``: name → password,
    anonymous clients refused."""

    def __init__(
        self, workdir: Path, *, persistence: bool = False, tls: bool = False, users: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.binary = _binary(MOSQUITTO, "mosquitto")
        self.port = free_port()
        self.url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{self.port}"
        self.config = workdir / "mosquitto.conf"
        store = workdir / "mosquitto-data"
        store.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            # mosquitto ≥ 2 refuses anonymous clients once a listener is set
            f"allow_anonymous {'false' if users else 'true'}",
            "user root",  # as root it would otherwise switch to 'mosquitto' and lose the temp dir
            "max_queued_messages 0",  # persistent test subscribers must not lose an outage's backlog
            "set_tcp_nodelay true",  # as production brokers should: no 40 ms Nagle stalls
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {store}/",
            "log_dest stderr",
        ]
        if tls:
            self.ca_file, self.client_cert, self.client_key = _make_certificates(workdir)
            lines += [
                f"cafile {self.ca_file}",
                f"certfile {workdir / 'server.pem'}",
                f"keyfile {workdir / 'server.key'}",
                "require_certificate true",
            ]
        if users:
            passwords = workdir / "passwords"
            passwords.touch()
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
            lines.append(f"password_file {passwords}")
        self.config.write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        return [self.binary, "-c", str(self.config)]


def _make_certificates(workdir: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed (Debian package openssl)")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=aimd test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    (workdir / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=aimd {name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "1", "-out", f"{name}.pem", *extra)
    return workdir / "ca.pem", workdir / "client.pem", workdir / "client.key"


class Prometheus(_Service):
    def __init__(self, workdir: Path, *, targets: list[str], rule_files: Sequence[Path] = ()) -> None:
        super().__init__()
        self.binary = _binary(PROMETHEUS, "prometheus")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.config = workdir / "prometheus.yml"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "aimd", "static_configs": [{"targets": targets}]}],
        }
        self.config.write_text(yaml.safe_dump(config))

    def _command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 30
        while True:  # the port opens before the API answers (TSDB replay)
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def get(self, path: str, **params: str) -> Any:
        """The ``data`` of an HTTP API call; raises AssertionError with Prometheus' error text."""
        url = f"{self.url}{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        assert body["status"] == "success", f"{path} {params}: {body.get('error')}"
        return body["data"]

    def query(self, expr: str) -> dict[str, Any]:
        """The ``data`` of an instant query."""
        return self.get("/api/v1/query", query=expr)

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until ``expr`` returns at least one series."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)["result"]
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expr!r} returned nothing within {timeout} s")
            time.sleep(0.5)


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class MqttCollector:
    """Subscribes to ``topic`` on a loopback broker and records every message.

    It reconnects on its own, so it survives a broker restart. With
    ``session_id`` its session is persistent (clean_session off, QoS 1): a
    broker with persistence keeps what was published while it was away."""

    def __init__(self, port: int, topic: str = "#", *, session_id: str | None = None) -> None:
        self.port, self.topic, self.session_id = port, topic, session_id
        self.messages: list[Received] = []
        #: time.perf_counter() at which each message of ``messages`` arrived.
        self.received_at: list[float] = []
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MqttCollector:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._subscribed.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    async def wait_for(self, done: Callable[[list[Received]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s; got {len(self.messages)} messages")
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        persistent = self.session_id is not None
        while True:
            try:
                client = aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier=self.session_id,
                    clean_session=not persistent,
                    socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
                )
                async with client:
                    await client.subscribe(self.topic, qos=1)
                    self._subscribed.set()
                    async for m in client.messages:
                        payload = m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
                        self.messages.append(Received(m.topic.value, payload, m.retain))
                        self.received_at.append(time.perf_counter())
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)


def start_metrics_server(host: str, port: int, registry: Metrics) -> WSGIServer:
    """Serve ``registry`` on ``/metrics`` from a daemon thread, for a Prometheus to scrape; ``port=0``
    picks a free port (``server.server_port``). Stop with ``server.shutdown()``. (aimd itself serves
    /metrics from its aiohttp app, streamer/web.)"""
    server, _thread = start_http_server(port, addr=host, registry=registry.registry)
    return server
