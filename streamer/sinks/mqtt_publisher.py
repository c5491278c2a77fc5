"""The process's one MQTT connection: availability, reconnect, outage buffer.

``publish()`` never waits: it appends to a bounded in-order buffer and returns.
A background task keeps one aiomqtt connection up (aiomqtt has no reconnect of
its own), re-sends the birth messages on every connect, then drains the
buffer with QoS 1, removing a message only once the broker acknowledged it.
After a disconnect, unacknowledged messages are sent again in order
(at-least-once: a consumer may see a duplicate ``seq``, never a gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections import deque
from collections.abc import Callable, Iterable

import aiomqtt

from .metrics import Metrics
from .metrics import metrics as process_metrics
from .mqtt_buffer import Message, OutgoingBuffer
from .settings import MqttSettings
from .topics import Topics

log = logging.getLogger(__name__)

ONLINE, OFFLINE, STOPPED = b"online", b"offline", b"stopped"
#: Publications awaiting PUBACK at once: pipelining keeps latency flat when
#: many sources finish a window at the same moment.
_MAX_INFLIGHT = 32

BirthHook = Callable[[], Iterable[Message]]
MessageHook = Callable[[bytes], Iterable[Message]]


class MqttPublisher:
    """Raises ValueError at construction when the TLS files cannot be used."""

    def __init__(self, settings: MqttSettings, *, metrics: Metrics = process_metrics) -> None:
        self.settings = settings
        self.topics = Topics(settings.prefix, settings.instance)
        self._tls = _tls_context(settings)
        self._metrics = metrics
        self._buffer = OutgoingBuffer(settings.buffer_messages)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._birth_hooks: list[BirthHook] = []
        self._message_hooks: dict[str, MessageHook] = {}
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._drops_logged = 0
        #: Messages the broker acknowledged.
        self.published = 0

    # ---- used by sinks
    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Queue one message; returns at once whatever the broker's state."""
        data = payload.encode() if isinstance(payload, str) else payload
        if self._buffer.append(Message(topic, data, retain)):
            self._metrics.mqtt_dropped()
            if not self._drops_logged:
                log.warning("MQTT buffer full (%d messages): dropping the oldest", self._buffer.capacity)
            self._drops_logged += 1
        self._metrics.mqtt_buffered(self.pending)
        self._wake.set()

    def on_connect(self, hook: BirthHook) -> None:
        """``hook()`` gives retained state to send on every connect, before ``online``."""
        self._birth_hooks.append(hook)

    def on_message(self, topic: str, hook: MessageHook) -> None:
        """Subscribe to ``topic``; messages ``hook(payload)`` returns are published."""
        self._message_hooks[topic] = hook

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def dropped(self) -> int:
        return self._buffer.dropped

    @property
    def pending(self) -> int:
        """Messages not yet acknowledged by the broker (buffered or in flight)."""
        return len(self._buffer) + self._in_flight

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self.connected

    # ---- lifecycle
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mqtt-publisher")

    async def aclose(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout``), publish ``stopped``, disconnect."""
        if self._task is None:
            return
        self._stop.set()
        self._wake.set()
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            log.warning("MQTT: %d messages not delivered at shutdown", self.pending)
        self._task = None

    # ---- connection loop
    async def _run(self) -> None:
        delay = self.settings.reconnect_min_s
        while True:  # a stop requested before the first connect still gets one try to flush
            try:
                async with self._client() as client:
                    self._set_connected(True)
                    delay = self.settings.reconnect_min_s
                    if await self._session(client):
                        return
            except aiomqtt.MqttError as exc:
                self._metrics.mqtt_error()
                log.warning("MQTT %s: %s; retrying in %.1f s", self.settings.safe_url, exc, delay)
            finally:
                self._set_connected(False)
            if self._stop.is_set():
                if self.pending:
                    log.warning("MQTT: %d messages not delivered at shutdown", self.pending)
                return
            # Jitter keeps many aimd instances from reconnecting in lockstep.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=f"aimd-{s.prefix}-{s.instance}",
            will=aiomqtt.Will(self.topics.status, OFFLINE, qos=s.qos, retain=True),
            keepalive=s.keepalive_s,
            tls_context=self._tls,
            timeout=10,
            max_inflight_messages=_MAX_INFLIGHT,
            # Small messages must not wait for Nagle + delayed ACK (40 ms on Linux).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        client.pending_calls_threshold = _MAX_INFLIGHT  # our pipelining is deliberate, not a leak
        return client

    def _set_connected(self, connected: bool) -> None:
        if connected:
            self._connected.set()
            if self._drops_logged:
                log.warning("MQTT reconnected; %d messages were dropped during the outage", self._drops_logged)
                self._drops_logged = 0
            log.info("MQTT connected to %s", self.settings.safe_url)
        else:
            self._connected.clear()
        self._metrics.mqtt_connected(connected)

    async def _session(self, client: aiomqtt.Client) -> bool:
        """Serve one connection; True after a clean stop, MqttError when it drops."""
        for topic in self._message_hooks:
            await client.subscribe(topic, qos=1)
        births = [m for hook in self._birth_hooks for m in hook()]
        self._buffer.requeue([*births, Message(self.topics.status, ONLINE, retain=True)])
        pump = asyncio.create_task(self._pump(client))
        listen = asyncio.create_task(self._listen(client))
        try:
            # The listener is what notices a dead connection (the pump may be waiting on a PUBACK).
            done, _ = await asyncio.wait((pump, listen), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, listen):
                task.cancel()
            await asyncio.gather(pump, listen, return_exceptions=True)
        for task in done:
            task.result()  # re-raise MqttError
        await client.publish(self.topics.status, STOPPED, qos=self.settings.qos, retain=True)
        self._acknowledged(0)
        return True

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Send in order with up to _MAX_INFLIGHT awaiting PUBACK; returns when stopping and drained."""
        inflight: deque[tuple[Message, asyncio.Task[None]]] = deque()
        try:
            while True:
                while self._buffer and len(inflight) < _MAX_INFLIGHT:
                    m = self._buffer.popleft()
                    send = client.publish(m.topic, m.payload, qos=self.settings.qos, retain=m.retain)
                    inflight.append((m, asyncio.create_task(send)))
                    self._in_flight = len(inflight)
                if inflight:
                    await inflight[0][1]
                    inflight.popleft()
                    self._in_flight = len(inflight)
                    self._acknowledged(self.pending)
                    continue
                if self._stop.is_set():
                    return
                self._wake.clear()
                await self._wake.wait()
        finally:
            for _, task in inflight:
                task.cancel()
            self._buffer.requeue(m for m, _ in inflight)
            self._in_flight = 0

    def _acknowledged(self, waiting: int) -> None:
        self.published += 1
        self._metrics.mqtt_published()
        self._metrics.mqtt_buffered(waiting)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            hook = self._message_hooks.get(message.topic.value)
            if hook is None:
                continue
            raw = message.payload
            payload = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
            for m in hook(payload):
                self.publish(m.topic, m.payload, retain=m.retain)


def _tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    try:
        context = ssl.create_default_context(cafile=settings.ca_file)
        if settings.cert_file and settings.key_file:
            context.load_cert_chain(settings.cert_file, settings.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"MQTT TLS files unusable: {exc}") from None
    return context
