"""Prometheus metrics: the sink's bookkeeping, the exposition lint, the HTTP endpoint."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client import generate_latest
from sink_fixtures import summary, verdict

from services import start_metrics_server

from streamer.sinks.metrics import Metrics, MetricsSink
from streamer.sinks.settings import EventSettings
from streamer.types import Decision

A, H, S = Decision.AI, Decision.HUMAN, Decision.SILENCE


def exercised() -> Metrics:
    """Every metric family with at least one sample."""
    m = Metrics()
    m.build_info("local", "test-1")
    m.inference("local", 0.02, 4.0)
    m.engine_request("modulate", "ok", 0.3)
    m.queue_depth("fm", 2)
    m.windows_dropped("fm", "queue_full", 3)
    m.source_up("fm", True)
    m.reconnect("fm")
    m.window("fm", verdict(0, A))
    m.segment("fm", active=True, opened=True)
    m.mqtt_connected(True)
    m.mqtt_published()
    m.mqtt_error()
    m.mqtt_dropped(2)
    m.mqtt_buffered(5)
    return m


def test_exposition_passes_promtool_check_metrics() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    text = generate_latest(exercised().registry)
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, b"")


async def test_sink_turns_verdicts_and_states_into_metrics() -> None:
    m = Metrics()
    sink = MetricsSink(m, EventSettings(open_windows=2, close_windows=1))
    value = m.registry.get_sample_value
    await sink.on_source_state("fm", "starting")
    await sink.on_source_state("fm", "running")
    for i, d in enumerate([A, A, A, H, S]):
        await sink.on_window("fm", verdict(i, d))
        if i == 2:
            assert value("aimd_ai_segment_active", {"source": "fm"}) == 1
    assert value("aimd_source_up", {"source": "fm"}) == 1
    assert value("aimd_windows_analyzed_total", {"source": "fm", "decision": "ai"}) == 3
    assert value("aimd_ai_music_seconds_total", {"source": "fm"}) == 12.0
    assert value("aimd_ai_segments_total", {"source": "fm"}) == 1
    assert value("aimd_ai_segment_active", {"source": "fm"}) == 0
    assert value("aimd_source_decision", {"source": "fm", "decision": "silence"}) == 1
    assert value("aimd_source_decision", {"source": "fm", "decision": "ai"}) == 0
    assert value("aimd_window_latency_seconds_count", {"source": "fm"}) == 5
    await sink.on_window("fm", verdict(5, A))
    await sink.on_summary("fm", summary(6))
    await sink.on_source_state("fm", "reconnecting")
    assert value("aimd_source_up", {"source": "fm"}) == 0
    assert value("aimd_source_reconnects_total", {"source": "fm"}) == 1
    assert value("aimd_ai_segment_active", {"source": "fm"}) == 0


def test_real_time_factor_and_remote_engine_outcomes() -> None:
    m = exercised()
    m.engine_request("modulate", "timeout", 5.0)
    value = m.registry.get_sample_value
    assert value("aimd_inference_realtime_factor", {"engine": "local"}) == pytest.approx(0.005)
    assert value("aimd_engine_requests_total", {"engine": "modulate", "outcome": "timeout"}) == 1
    assert value("aimd_engine_request_duration_seconds_count", {"engine": "modulate"}) == 2


def test_metrics_endpoint_serves_the_registry() -> None:
    m = exercised()
    server = start_metrics_server("127.0.0.1", 0, m)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'aimd_build_info{engine="local",model_version="test-1",version="0.1.0"} 1.0' in body
    assert "aimd_mqtt_connected 1.0" in body
