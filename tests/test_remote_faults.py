"""Remote engines against a scripted misbehaving vendor: every documented fault ends clearly, or recovers."""

from __future__ import annotations

import pytest
from misbehaving_server import misbehaving_server
from test_remote_support import StatsSink, analyse

from streamer.engines.remote import RemoteEngineSettings
from streamer.sinks.metrics import metrics
from streamer.types import Status

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05, "poll_interval_s": 0.05, "request_timeout_s": 2.0}


@pytest.fixture
def vendor():
    with misbehaving_server() as (server, address):
        yield server, address


def _ws(address: str, **extra) -> RemoteEngineSettings:
    return RemoteEngineSettings(url=f"ws://{address}", api_key="secret-key-xyz", **{**FAST, **extra})


def _http(address: str, **extra) -> RemoteEngineSettings:
    return RemoteEngineSettings(url=f"http://{address}", api_key="k", client_id="cid", client_secret="cs", clip_s=12, **{**FAST, **extra})


def _quota_count() -> float:
    return metrics.registry.get_sample_value("aimd_engine_requests_total", {"engine": "modulate", "outcome": "quota"}) or 0.0


async def test_wrong_key_fails_once_without_retry_and_never_shows_the_key(vendor, caplog):
    server, address = vendor
    server.ws_plan.extend(["bad_key"] * 5)
    summary = await analyse("modulate", _ws(address))
    assert summary.status is Status.ERROR and "4001" in summary.message and "Invalid API key." in summary.message
    assert server.hits["ws:bad_key"] == 1
    assert "secret-key-xyz" not in caplog.text + summary.message


async def test_over_quota_backs_off_then_succeeds(vendor):
    server, address = vendor
    server.ws_plan.append("quota")
    before = _quota_count()
    stats = StatsSink()
    summary = await analyse("modulate", _ws(address), sinks=[stats])
    assert summary.status is Status.OK and summary.window_count == 3
    assert _quota_count() == before + 1
    assert stats.stats[-1].quota_errors == 1 and dict(stats.stats[-1].requests) == {"quota": 1, "ok": 4}  # 3 windows + done
    assert summary.windows[0].vocal_ai_confidence == 0.97 and summary.is_ai  # doc example window and done


async def test_connection_dropped_mid_stream_reconnects_with_a_new_session(vendor):
    server, address = vendor
    server.ws_plan.append("drop_after_1")
    summary = await analyse("modulate", _ws(address))
    assert summary.status is Status.OK and [w.start_ms for w in summary.windows] == [0, 4000, 8000]
    assert server.hits["ws:drop_after_1"] == 1 and server.hits["ws:ok"] == 1
    assert "new session" in summary.windows[1].evidence[-1]
    assert any("last reconnect" in e for e in summary.evidence)


@pytest.mark.parametrize("step", ["malformed", "missing_fields"])
async def test_malformed_answers_fail_with_a_clear_message(vendor, step):
    server, address = vendor
    server.ws_plan.append(step)
    summary = await analyse("modulate", _ws(address))
    assert summary.status is Status.ERROR and summary.message.startswith("modulate sent a malformed message")


async def test_a_silent_server_times_out_and_gives_up_after_the_retries(vendor):
    server, address = vendor
    server.ws_plan.extend(["silent"] * 3)
    summary = await analyse("modulate", _ws(address, request_timeout_s=0.2, retries=2))
    assert summary.status is Status.ERROR and "unreachable after 3 attempts" in summary.message


async def test_a_pex_token_that_expires_mid_run_is_renewed(vendor):
    server, address = vendor
    server.token_max_uses = 1  # every token works for one detect only
    summary = await analyse("pex", _http(address), seconds=26.0)
    assert summary.status is Status.OK and summary.is_ai and summary.predicted_model == "suno"
    assert server.tokens_issued == 2 and server.hits["detect"] == 2
    assert all(w.clip_level for w in summary.windows)


async def test_a_429_storm_is_ridden_out_with_backoff(vendor):
    server, address = vendor
    server.plan("detect", *[(429, {"status": "error", "message": "slow down"})] * 3)
    summary = await analyse("pex", _http(address))
    assert summary.status is Status.OK and server.hits["detect"] == 4


async def test_an_endless_429_storm_surfaces_the_vendor_message(vendor):
    server, address = vendor
    server.plan("detect", *[(429, {"status": "error", "message": "slow down"})] * 10)
    summary = await analyse("pex", _http(address, retries=2))
    assert summary.status is Status.ERROR and "slow down" in summary.message and server.hits["detect"] == 3


async def test_a_non_retryable_refusal_is_reported_once(vendor):
    server, address = vendor
    server.plan("detect", (400, {"status": "error", "message": "Missing field 'file'."}))
    summary = await analyse("pex", _http(address))
    assert summary.status is Status.ERROR and "Missing field 'file'." in summary.message and server.hits["detect"] == 1


async def test_a_task_pending_forever_times_out(vendor):
    server, address = vendor
    server.task_status = "pending"
    summary = await analyse("mippia", _http(address, task_timeout_s=0.3))
    assert summary.status is Status.ERROR and "still pending after 0.3 s" in summary.message


async def test_mippia_quick_start_spelling_is_understood(vendor):
    _, address = vendor
    summary = await analyse("mippia", _http(address))  # the scripted vendor answers {"taskId": …}
    assert summary.status is Status.OK and summary.is_ai and summary.ai_score == pytest.approx(0.9)
