"""MQTT output against a real Mosquitto: topics, payload contracts, availability,
outage buffering and Home Assistant discovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import aiomqtt
import jsonschema
import pytest
import yaml
from pydantic import ValidationError
from services import Mosquitto, MqttCollector, Received
from sink_fixtures import summary, verdict

from streamer.sinks.metrics import Metrics
from streamer.sinks.mqtt_buffer import Message, OutgoingBuffer
from streamer.sinks.mqtt_payloads import InstanceInfo
from streamer.sinks.mqtt_publisher import MqttPublisher
from streamer.sinks.mqtt_sink import MqttSink
from streamer.sinks.settings import MqttSettings
from streamer.sinks.topics import Topics, sanitize_segment
from streamer.types import Decision

SCHEMAS = Path(__file__).resolve().parents[1] / "protocols" / "mqtt" / "schemas"
INFO = InstanceInfo(engine="local", model_version="test-1", window_s=4.0, hop_s=4.0)
A, H = Decision.AI, Decision.HUMAN


def schema_for(topic: str) -> dict:
    parts = topic.split("/")
    name = parts[-1] if len(parts) == 3 else {"status": "source-status"}.get(parts[-1], parts[-1])
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def decode(message: Received) -> object:
    text = message.payload.decode()
    return text if message.topic.endswith(("/status", "/state")) else json.loads(text)


def settings(broker: Mosquitto, **overrides: object) -> MqttSettings:
    return MqttSettings(url=broker.url, instance="test-1", reconnect_max_s=0.5, **overrides)


@pytest.fixture
def broker(tmp_path: Path):
    with Mosquitto(tmp_path) as broker:
        yield broker


def test_source_ids_are_sanitised() -> None:
    topics = Topics("aimd", "host")
    assert topics.source("Radio 1/+#\x00 FM", "window") == "aimd/host/source/radio_1_fm/window"
    assert sanitize_segment("  ") == ""


def test_bad_settings_are_clear_errors(tmp_path: Path) -> None:
    bad = [("http://x", "mqtt://"), ("mqtt://", "no host"), ("mqtt://h:99999", "port"), ("mqtt://h/t", "path")]
    for url, words in bad:
        with pytest.raises(ValidationError, match=words):
            MqttSettings(url=url)
    with pytest.raises(ValidationError, match="not mqtts"):
        MqttSettings(url="mqtt://h", ca_file=Path(__file__))
    with pytest.raises(ValidationError, match="not point to a file"):
        MqttSettings(url="mqtts://h", ca_file=tmp_path / "missing.pem")
    with pytest.raises(ValidationError, match="one topic level"):
        MqttSettings(url="mqtt://h", prefix="a/b")
    s = MqttSettings(url="mqtts://us%40er:p%3Ass@broker.example", instance="My Box!")
    assert (s.host, s.port, s.username, s.password, s.instance, s.tls) == (
        "broker.example", 8883, "us@er", "p:ss", "my_box", True)
    assert "p:ss" not in s.safe_url


def test_full_buffer_drops_the_oldest_non_retained_message() -> None:
    buffer = OutgoingBuffer(3)
    buffer.append(Message("s", b"online", retain=True))
    for i in range(3):
        buffer.append(Message("w", str(i).encode()))
    assert buffer.dropped == 1
    assert [buffer.popleft().payload for _ in range(3)] == [b"online", b"1", b"2"]


async def test_every_topic_and_payload_matches_the_contract(broker: Mosquitto) -> None:
    metrics = Metrics()
    async with MqttCollector(broker.port, "#") as inbox:
        publisher = MqttPublisher(settings(broker, discovery=True), metrics=metrics)
        sink = MqttSink(publisher, INFO)
        publisher.start()
        await sink.on_source_state("Radio 1", "running")
        for i, d in enumerate([H, A, A, A, A, H, H]):
            await sink.on_window("Radio 1", verdict(i, d))
        await sink.on_summary("Radio 1", summary(7))
        await sink.on_source_state("Radio 1", "stopped")
        await sink.aclose()
        await inbox.wait_for(lambda msgs: any(m.payload == b"stopped" for m in msgs))

    base = "aimd/test-1/source/radio_1"
    for message in inbox.messages:
        if message.topic.startswith("homeassistant/"):
            continue
        jsonschema.validate(decode(message), schema_for(message.topic))
    assert [m.payload for m in inbox.on("aimd/test-1/status")] == [b"online", b"stopped"]
    # The connect-time snapshot of retained state comes first, then the history in order.
    statuses = [m.payload for m in inbox.on(f"{base}/status")]
    assert statuses[-2:] == [b"online", b"offline"]
    assert [json.loads(m.payload)["seq"] for m in inbox.on(f"{base}/window")] == list(range(7))
    assert [m.payload for m in inbox.on(f"{base}/state")][-3:] == [b"human", b"ai", b"human"]
    events = [json.loads(m.payload) for m in inbox.on(f"{base}/event")]
    assert [e["type"] for e in events] == ["start", "update", "end"] and len({e["id"] for e in events}) == 1
    assert json.loads(inbox.on(f"{base}/summary")[0].payload)["window_count"] == 7
    assert json.loads(inbox.on("aimd/test-1/info")[-1].payload)["sources"] == ["Radio 1"]
    (discovery,) = {m.payload for m in inbox.on("homeassistant/device/test-1_radio_1/config")}
    assert json.loads(discovery)["cmps"]["ai_music"]["state_topic"] == f"{base}/state"
    assert publisher.published == len([m for m in inbox.messages if m.topic != "homeassistant/status"])


async def test_tls_with_client_certificate_and_password(tmp_path: Path) -> None:
    with Mosquitto(tmp_path, tls=True, users={"aimd": "s3cret:/@"}) as broker:
        base = broker.url.replace("mqtts://", "mqtts://aimd:s3cret%3A%2F%40@")
        files = {"ca_file": broker.ca_file, "cert_file": broker.client_cert, "key_file": broker.client_key}
        good = MqttPublisher(MqttSettings(url=base, instance="tls", **files), metrics=Metrics())
        good.publish("aimd/tls/probe", b"x")
        good.start()
        assert await good.wait_connected(5)
        await good.aclose()
        assert good.published == 3 and good.pending == 0  # probe, online, stopped

        wrong = broker.url.replace("mqtts://", "mqtts://aimd:wrong@")
        metrics = Metrics()
        refused = MqttPublisher(MqttSettings(url=wrong, instance="tls", **files), metrics=metrics)
        refused.start()
        assert not await refused.wait_connected(1)
        await refused.aclose()
        assert metrics.registry.get_sample_value("aimd_mqtt_errors_total") >= 1
    with pytest.raises(ValueError, match="TLS files unusable"):
        MqttPublisher(MqttSettings(url=base, ca_file=broker.client_key))


async def test_home_assistant_birth_republishes_discovery(broker: Mosquitto) -> None:
    publisher = MqttPublisher(settings(broker, discovery=True), metrics=Metrics())
    sink = MqttSink(publisher, INFO)
    publisher.start()
    await sink.on_source_state("fm", "running")
    config = "homeassistant/device/test-1_fm/config"
    async with MqttCollector(broker.port, config) as inbox:
        await inbox.wait_for(lambda msgs: len(msgs) >= 1 and publisher.pending == 0)
        before = len(inbox.messages)
        async with aiomqtt.Client("127.0.0.1", broker.port) as home_assistant:
            await home_assistant.publish("homeassistant/status", b"offline", qos=1)
            await home_assistant.publish("homeassistant/status", b"online", qos=1)
        await inbox.wait_for(lambda msgs: len(msgs) == before + 1)  # for 'online' only
        await asyncio.sleep(0.2)
    assert len(inbox.messages) == before + 1 and inbox.messages[-1].payload == inbox.messages[0].payload
    await sink.aclose()


async def test_broker_outage_delivers_every_window_in_order(tmp_path: Path) -> None:
    with Mosquitto(tmp_path, persistence=True) as broker:
        metrics = Metrics()
        publisher = MqttPublisher(settings(broker), metrics=metrics)
        sink = MqttSink(publisher, INFO)
        async with MqttCollector(broker.port, "aimd/+/source/+/window", session_id="outage-test") as inbox:
            publisher.start()
            assert await publisher.wait_connected(5)
            for i in range(5):
                await sink.on_window("fm", verdict(i))
            await inbox.wait_for(lambda msgs: len(msgs) == 5)

            broker.stop()
            slowest = 0.0
            for i in range(5, 205):
                started = time.perf_counter()
                await sink.on_window("fm", verdict(i))
                slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(1.0)
            assert not publisher.connected and publisher.pending >= 200
            broker.start()
            await inbox.wait_for(lambda msgs: len({json.loads(m.payload)["seq"] for m in msgs}) == 205, timeout=20)
        await sink.aclose()
    seqs = [json.loads(m.payload)["seq"] for m in inbox.messages]
    first_seen = list(dict.fromkeys(seqs))
    assert first_seen == list(range(205))
    assert slowest < 0.005, "on_window must never wait for the broker"
    assert publisher.dropped == 0
    exposition = metrics.registry.get_sample_value
    assert exposition("aimd_mqtt_errors_total") >= 1 and exposition("aimd_mqtt_connected") == 0


async def test_full_outage_buffer_counts_drops(broker: Mosquitto) -> None:
    metrics = Metrics()
    publisher = MqttPublisher(settings(broker, buffer_messages=100), metrics=metrics)
    sink = MqttSink(publisher, INFO)
    broker.stop()
    for i in range(150):
        await sink.on_window("fm", verdict(i))
    # 150 windows + the retained info and state messages into 100 slots: retained ones survive.
    assert publisher.dropped == 52 and metrics.registry.get_sample_value("aimd_mqtt_messages_dropped_total") == 52
    assert publisher.pending == 100


async def test_kill_9_leaves_retained_offline(broker: Mosquitto) -> None:
    script = textwrap.dedent(f"""
        import asyncio
        from streamer.sinks.mqtt_publisher import MqttPublisher
        from streamer.sinks.settings import MqttSettings

        async def main():
            publisher = MqttPublisher(MqttSettings(url={broker.url!r}, instance="doomed", keepalive_s=5))
            publisher.start()
            await publisher.wait_connected(5)
            while publisher.pending:
                await asyncio.sleep(0.01)
            print("ready", flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[1])
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        async with MqttCollector(broker.port, "aimd/doomed/status") as inbox:
            await inbox.wait_for(lambda msgs: [m.payload for m in msgs] == [b"online"])
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        async with MqttCollector(broker.port, "aimd/doomed/status") as inbox:
            await inbox.wait_for(lambda msgs: msgs and msgs[-1].payload == b"offline", timeout=5)
        assert inbox.messages[-1].retain
    finally:
        child.kill()
        child.wait()


def test_asyncapi_documents_every_schema() -> None:
    spec = yaml.safe_load((SCHEMAS.parent / "asyncapi.yaml").read_text())
    refs = {
        message["payload"]["$ref"]
        for channel in spec["channels"].values()
        for message in channel["messages"].values()
        if "$ref" in message["payload"]
    }
    assert refs == {f"schemas/{p.name}" for p in SCHEMAS.glob("*.json")}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        if schema["type"] == "object":
            assert schema["properties"]["schema"]["const"] == 1, path.name
