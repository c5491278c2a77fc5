"""Every remote engine against the real ``aimd serve`` on loopback: source → remote engine → verdicts / MQTT,
with each source's engine stats (requests, latency, audio sent) where users read them."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from audio_fixtures import encode, music
from services import Mosquitto, MqttCollector, free_port
from test_remote_support import StatsSink, analyse
from server_app import running_server

from streamer.engines.remote import RemoteEngineSettings
from streamer.server.settings import ServerSettings
from streamer.sinks.metrics import metrics
from streamer.types import Status
from streamer.web.status import StatusSink

KEY = "e2e-key"
ENGINE_SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "protocols/mqtt/schemas/engine.json").read_text())


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    settings = ServerSettings(port=free_port(), api_keys=(KEY,), pex_clients=("cid:csecret",),
                              data_dir=tmp_path_factory.mktemp("serve"))  # fmt: skip
    with running_server(settings) as address:
        yield address


def _remote(serve: str, scheme: str = "http") -> RemoteEngineSettings:
    return RemoteEngineSettings(url=f"{scheme}://{serve}", api_key=KEY, client_id="cid", client_secret="csecret",
                                clip_s=12, poll_interval_s=0.1)  # fmt: skip


def _audio_sent(engine: str) -> float:
    return metrics.registry.get_sample_value("aimd_engine_audio_seconds_total", {"engine": engine}) or 0.0


@pytest.mark.parametrize("dual_lane", [False, True])
async def test_modulate_streams_windows_and_maps_done(serve, dual_lane):
    before = _audio_sent("modulate")
    remote = RemoteEngineSettings.model_validate({**_remote(serve, "ws").model_dump(), "dual_lane": dual_lane})
    page = StatusSink()
    summary = await analyse("modulate", remote, seconds=13.0, sinks=[page])
    assert summary.status is Status.OK and summary.engine == "modulate"
    assert [(w.start_ms, w.end_ms) for w in summary.windows] == [(0, 4000), (4000, 8000), (8000, 12000)]
    assert all(not w.clip_level and w.level_dbfs > -30 for w in summary.windows)
    assert summary.evidence[0].startswith("modulate: ")  # from the done message
    assert _audio_sent("modulate") == pytest.approx(before + 12.0)
    (row,) = page.snapshot()  # the live status page's row for the source
    assert row["engine"]["requests"] == {"ok": 4} and row["engine"]["audio_seconds_sent"] == 12.0  # 3 windows + done
    if dual_lane:  # both lanes scored: the music's score reaches the windows
        assert any(w.ai_score > 0 for w in summary.windows)


@pytest.mark.parametrize("engine", ["modulate-batch", "pex", "mippia", "undetectable"])
async def test_clip_engines_spread_clip_results_onto_their_windows(serve, engine):
    before = _audio_sent(engine)
    stats = StatsSink()
    summary = await analyse(engine, _remote(serve), seconds=26.0, sinks=[stats])
    assert summary.status is Status.OK, summary.message
    assert summary.engine == engine and summary.window_count == 6 and not summary.is_ai
    assert all(w.clip_level and w.decision.value == "human" for w in summary.windows)
    assert summary.evidence == (f"{engine}: 0 of 2 clips AI",)
    assert _audio_sent(engine) == pytest.approx(before + 24.0)  # two 12 s clips; the 2 s past the last window never reach a window
    final = stats.stats[-1]  # this source's own account, whatever else the engine served
    assert final.engine == engine and final.audio_seconds_sent == 24.0 and final.quota_errors == 0
    assert [outcome for outcome, _ in final.requests] == ["ok"] and final.latency_ms_max >= final.latency_ms_mean > 0


async def test_wrong_credentials_against_serve_fail_cleanly(serve):
    for engine, field in [("pex", "client_secret"), ("undetectable", "api_key")]:
        remote = RemoteEngineSettings.model_validate({**_remote(serve).model_dump(), field: "nope"})
        summary = await analyse(engine, remote)
        assert summary.status is Status.ERROR and "refused with HTTP" in summary.message and "nope" not in summary.message


async def test_aimd_run_forwards_to_serve_and_publishes_to_mqtt(serve, tmp_path):
    song = encode(tmp_path / "song.wav", music(9.0, 44100, 2), 44100, "wav")
    with Mosquitto(tmp_path) as broker:
        async with MqttCollector(broker.port) as collector:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "streamer", "run", "--source", str(song), "--engine", "modulate",
                "--engine-url", f"ws://{serve}", "--mqtt", broker.url, "--instance", "box1",
                env={"AIMD_API_KEY": KEY, "PATH": "/usr/bin:/bin"}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(child.communicate(), 60)
            assert child.returncode == 0, err.decode()
            lines = [json.loads(line) for line in out.decode().splitlines()]
            assert [line["window"]["start_time_ms"] for line in lines if line["type"] == "window"] == [0, 4000]
            await collector.wait_for(lambda msgs: sum(m.topic.endswith("/window") for m in msgs) >= 2)
        # A user who subscribes after the run gets the source's retained engine stats.
        async with MqttCollector(broker.port, "aimd/box1/source/+/engine") as late:
            await late.wait_for(lambda msgs: len(msgs) == 1)
    (retained,) = late.messages
    stats = json.loads(retained.payload)
    jsonschema.validate(stats, ENGINE_SCHEMA)
    assert retained.retain and stats["source"] == str(song) and retained.topic.endswith("_song.wav/engine")
    assert stats["engine"] == "modulate" and stats["requests"] == {"ok": 3} and stats["requests_total"] == 3  # 2 windows + done
    assert stats["audio_seconds_sent"] == 8.0 and stats["quota_errors"] == 0 and stats["last_outcome"] == "ok"
    assert 0 < stats["latency_ms"]["mean"] <= stats["latency_ms"]["max"]
