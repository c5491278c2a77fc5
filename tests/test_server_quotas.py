"""Per-key enabled APIs, monthly audio quotas and MIPPIA's request rate, answered as each vendor does."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
import requests
import websockets
from audio_fixtures import encode, music
from server_app import running_server
from services import free_port
from test_server_modulate_pex import _stream as stream

from streamer.server.quotas import RateLimiter, usage_counter
from streamer.server.settings import Api, ApiKey, PexClient, ServerSettings

RATE = 44_100
#: 10 s of audio per API: two 9 s clips start (the second with 1 s left), a third does not.
QUOTA_HOURS = 10 / 3600
MODULATE_ONLY = "modulate-only"
SMALL_QUOTA = "small-quota"
STREAM_QUOTA = "stream-quota"
MIPPIA = "mippia-key"
BATCH = "/api/velma-2-ai-music-detection-batch"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = ServerSettings(
        port=free_port(),
        api_keys=(
            f"{MODULATE_ONLY}:modulate",
            ApiKey(key=SMALL_QUOTA, audio_quota_hours=QUOTA_HOURS),
            ApiKey(key=STREAM_QUOTA, apis=(Api.MODULATE,), audio_quota_hours=QUOTA_HOURS),
            f"{MIPPIA}:mippia",
        ),
        pex_clients=(PexClient(id="cid", secret="sec", audio_quota_hours=QUOTA_HOURS),),
        pex_min_duration_s=5.0,
        mippia_requests_per_minute=3,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    with running_server(settings) as address:
        yield address


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("a") / "song.mp3", music(9.0, RATE, 2), RATE, "mp3")


def _batch(server: str, key: str, mp3: Path, path: str = BATCH) -> requests.Response:
    return requests.post(f"http://{server}{path}", headers={"X-API-Key": key}, files={"upload_file": mp3.open("rb")}, timeout=30)


async def _stream(server: str, key: str, pcm: bytes) -> tuple[list[dict], int]:
    return await stream(server, f"audio_format=s16le&sample_rate={RATE}&num_channels=2", pcm, 64 * 1024, key=key)


def test_a_key_is_refused_the_apis_it_is_not_enabled_for(server, mp3):
    assert _batch(server, MODULATE_ONLY, mp3).status_code == 200
    refused = _batch(server, MODULATE_ONLY, mp3, "/api/velma-2-music-detection-batch")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("This request is not permitted.")
    mippia = requests.post(f"http://{server}/api/v1/ai-detection/lite", headers={"Authorization": f"Bearer {MODULATE_ONLY}"},
                           json={"musicId": "x"}, timeout=5)  # fmt: skip
    assert mippia.status_code == 403


async def test_a_stream_on_an_api_not_enabled_closes_4003(server):
    url = f"ws://{server}/api/velma-2-music-detection-streaming?api_key={MODULATE_ONLY}&audio_format=mp3"
    async with websockets.connect(url) as ws:
        message = json.loads(await ws.recv())
        await ws.wait_closed()
    assert message == {"type": "error", "error": "This request is not permitted. Model access is not enabled for this API key."}
    assert ws.close_code == 4003


async def test_the_monthly_quota_ends_batch_then_streams(server, mp3):
    assert _batch(server, SMALL_QUOTA, mp3).status_code == 200  # 9 s of 10 used
    assert _batch(server, SMALL_QUOTA, mp3).status_code == 200  # 1 s left is enough to start: 18 s used
    over = _batch(server, SMALL_QUOTA, mp3)
    assert over.status_code == 403 and over.json() == {"detail": "This request is not permitted. Monthly usage limit reached."}
    assert _batch(server, SMALL_QUOTA, mp3, "/api/velma-2-music-detection-batch").status_code == 200  # counted per API
    messages, code = await _stream(server, SMALL_QUOTA, b"\0" * 4096)
    assert code == 4029 and messages[-1]["type"] == "error"


async def test_a_stream_stops_when_it_uses_up_the_quota(server):
    pcm = (music(20.0, RATE, 2, seed=3) * 32767).astype("<i2").tobytes()
    messages, code = await _stream(server, STREAM_QUOTA, pcm)
    assert code == 4029
    assert messages[-1] == {"type": "error", "error": "This request is not permitted. Monthly usage limit reached."}
    windows = [m for m in messages if m["type"] == "window"]
    assert len(windows) < 5  # 10 s allowed, charged every 4 s: stopped before the 20 s end
    assert not any(m["type"] == "done" for m in messages)


def test_pex_quota_is_answered_429(server, mp3):
    token = requests.post(f"http://{server}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("cid", "sec"), timeout=5)
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    url = f"http://{server}/v1/ai-detector/detect"
    assert requests.post(url, headers=headers, files={"file": mp3.open("rb")}, timeout=30).status_code == 200
    assert requests.post(url, headers=headers, files={"file": mp3.open("rb")}, timeout=30).status_code == 200  # 18 s used
    over = requests.post(url, headers=headers, files={"file": mp3.open("rb")}, timeout=30)
    assert over.status_code == 429 and "quota" in over.json()["message"].lower()


def test_mippia_rate_limit_is_429_with_retry_after(server):
    headers = {"Authorization": f"Bearer {MIPPIA}"}
    statuses = [requests.get(f"http://{server}/api/v1/task/result/none", headers=headers, timeout=5) for _ in range(4)]
    assert [r.status_code for r in statuses] == [404, 404, 404, 429]
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60


def test_rate_limiter_slides_over_sixty_seconds():
    limiter = RateLimiter(2)
    assert limiter.allow("k", 0.0) and limiter.allow("k", 30.0)
    assert not limiter.allow("k", 59.0)
    assert limiter.retry_after_s("k", 59.0) == 2
    assert limiter.allow("k", 60.5) and limiter.allow("other", 60.5)


def test_key_strings_and_objects_configure_the_same_policy():
    settings = ServerSettings(api_keys=("plain", "k:modulate,mippia", {"key": "o", "apis": ["undetectable"], "audio_quota_hours": 2}))
    assert settings.api_keys == (
        ApiKey(key="plain"),
        ApiKey(key="k", apis=(Api.MODULATE, Api.MIPPIA)),
        ApiKey(key="o", apis=(Api.UNDETECTABLE,), audio_quota_hours=2.0),
    )
    with pytest.raises(pydantic.ValidationError, match="modulate"):
        ServerSettings(api_keys=("k:nonsense",))
    with pytest.raises(pydantic.ValidationError, match="Pex client"):
        ServerSettings(api_keys=("k:pex",))


def test_usage_is_counted_per_month():
    jan, feb = 1_767_225_600.0, 1_769_904_000.0  # 2026-01-01, 2026-02-01 UTC
    assert usage_counter("p", Api.MODULATE, jan) == "p/modulate/2026-01"
    assert usage_counter("p", Api.MODULATE, feb) == "p/modulate/2026-02"

