"""Vendor payloads from the vendors' docs (vendor-protocols.md) → verdicts; the pure pieces of the remote engines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from misbehaving_server import DONE, PEX_OK, WINDOW

from streamer.engines.remote.clip_engine import Clip
from streamer.engines.remote.modulate_protocol import (
    CloseAction,
    DoneMessage,
    ErrorMessage,
    WindowMessage,
    check_window_length,
    close_action,
    parse_message,
    pcm_frame,
    stream_url,
)  # fmt: skip
from streamer.engines.remote.results import (
    ClipRejected,
    parse_mippia,
    parse_modulate_batch,
    parse_pex,
    parse_undetectable,
)
from streamer.engines.remote.scores import ScoreTracker
from streamer.engines.remote.settings import RemoteEngineSettings
from streamer.engines.remote.windows import level_dbfs
from streamer.types import Decision, Status, Window
from streamer.vendors.modulate import WireFormatError

BATCH = {"filename": "my_audio.mp3", "duration_s": 89.28, "primary_verdict": "ai-vocal-music", "vocal_percentage": 87.5,
         "vocal_ai_percentage": 56.5, "vocal_ai_confidence": 0.96, "instrumental_percentage": 64.3,
         "instrumental_ai_percentage": 10.5, "instrumental_ai_confidence": 0.95, "silence_percentage": 3.51,
         "windows": [{"start_time_ms": 0, "end_time_ms": 4000, "vocal_percentage": 100, "vocal_ai_percentage": 100,
                      "vocal_ai_confidence": 0.97, "instrumental_percentage": 79, "instrumental_ai_percentage": 0,
                      "instrumental_ai_confidence": 0, "silence_percentage": 0},
                     {"start_time_ms": 4000, "end_time_ms": 8000, "vocal_percentage": 0, "vocal_ai_percentage": 0,
                      "vocal_ai_confidence": 0, "instrumental_percentage": 82, "instrumental_ai_percentage": 0,
                      "instrumental_ai_confidence": 0.76, "silence_percentage": 18}],
         "latency_ms": 1333}  # fmt: skip
MIPPIA_MODELS = [
    {"overall_analysis": {"prediction": "real", "confidence": 0.923},
     "config": {"model_id": "model_0", "analysis_focus": "Waveform & Melody Pattern", "labels": ["real", "fake"]}},
    {"segment_analysis": {"prediction": ["real", "real", "real", "fake"], "confidence": [0.891, 0.912, 0.887, 0.903]},
     "overall_analysis": {"prediction": "real", "confidence": 0.945}, "config": {"model_id": "model_1", "labels": ["real", "fake"]}},
]  # fmt: skip
MIPPIA_DONE = {"task_id": "task_1", "status": "success", "model_type": "standard", "completed_at": "2025-12-04T05:30:15Z",
               "result": {"audio_filename.mp3": {"final_result": {"prediction": "real", "confidence": 0.9382},
                                                 "model_results": MIPPIA_MODELS}}}  # fmt: skip
UNDETECTABLE_DONE = {"id": "x", "status": "done", "result": 0.97,
                     "result_details": {"is_valid": True, "message": "...", "original_duration": 182.3, "is_truncated": True,
                                        "truncated_duration": 60, "mean_ai_prob": 0.97,
                                        "individual_chunks_ai_prob": [0.95, 0.99, 0.97]}}  # fmt: skip


def test_modulate_documented_window_and_done():
    window = parse_message(json.dumps({"type": "window", "window": WINDOW}))
    assert isinstance(window, WindowMessage) and window.verdict.decision is Decision.AI and window.verdict.ai_score == 0.97
    done = parse_message(json.dumps(DONE))
    assert isinstance(done, DoneMessage) and done.clip.is_ai and done.clip.ai_score == 0.96
    assert parse_message('{"type":"error","error":"Insufficient credits."}') == ErrorMessage("Insufficient credits.")


def test_modulate_dual_lane_window_with_null_lane():
    text = ('{"type":"window","window":{"start_time_ms":0,"end_time_ms":4000,"vocal_percentage":0,"vocal_ai_probability":null,'
            '"instrumental_percentage":90,"instrumental_ai_probability":0.81,"silence_percentage":10}}')  # fmt: skip
    verdict = parse_message(text, ai_threshold=0.5).verdict  # type: ignore[union-attr]
    assert verdict.ai_score == 0.81 and verdict.decision is Decision.AI and verdict.vocal_ai_confidence == 0.0


@pytest.mark.parametrize("text", ["{not json", '{"type":"window","window":{"start_time_ms":0}}', '{"type":"surprise"}', "[]",
                                  '{"type":"done","primary_verdict":"maybe"}'])  # fmt: skip
def test_modulate_undocumented_messages_are_refused(text):
    with pytest.raises(WireFormatError):
        parse_message(text)


def test_close_codes_map_to_the_documented_actions():
    assert close_action(1003) is CloseAction.FAIL_CONFIG and close_action(4002) is CloseAction.FAIL_CONFIG
    assert close_action(4001) is CloseAction.FAIL_AUTH and close_action(4003) is CloseAction.FAIL_AUTH
    assert close_action(4029) is CloseAction.BACK_OFF
    assert close_action(1011) is CloseAction.RECONNECT and close_action(None) is CloseAction.RECONNECT


def test_stream_url_and_pcm_frames():
    url = stream_url("wss://h", "k", 2)
    assert url == "wss://h/api/velma-2-ai-music-detection-streaming?api_key=k&audio_format=s16le&sample_rate=44100&num_channels=2"
    frame = pcm_frame(np.array([[1.5, -1.0], [0.5, 0.0]], np.float32))
    assert np.frombuffer(frame, "<i2").tolist() == [32767, -32767, 16383, 0]
    check_window_length(4.0, None)
    with pytest.raises(ValueError, match="4 s windows"):
        check_window_length(4.0, 2.0)


def test_modulate_batch_answer():
    result = parse_modulate_batch(BATCH)
    assert result.is_ai and result.ai_score == 0.96 and result.segment_scores == (0.97, 0.76)


def test_pex_answers():
    result = parse_pex(PEX_OK)
    assert result.is_ai and result.ai_score == 0.9992 and (result.predicted_model, result.predicted_model_score) == ("suno", 0.9723)
    with pytest.raises(ClipRejected) as rejected:
        parse_pex({"request_id": 1, "status": "not_enough_music", "message": "Audio exists, but …"})
    assert rejected.value.status is Status.NOT_ENOUGH_MUSIC and str(rejected.value) == "Audio exists, but …"
    with pytest.raises(WireFormatError):
        parse_pex({"status": "ok", "ai_score": 0.3})


def test_mippia_api_reference_shape():
    result = parse_mippia(MIPPIA_DONE)
    assert result is not None and not result.is_ai and result.ai_score == pytest.approx(1 - 0.9382)
    assert result.segment_scores == pytest.approx((1 - 0.891, 1 - 0.912, 1 - 0.887, 0.903))


def test_mippia_pro_v2_quick_start_and_old_shapes():
    v2 = {**MIPPIA_DONE, "result": {"final_result": {"prediction": "fake", "confidence": 0.8}, "model_results": [
        {"overall_analysis": {"prediction": "suno", "confidence": 0.7, "all_probs": {"suno": 0.7}}, "config": {"labels": ["suno"]}}]}}  # fmt: skip
    result = parse_mippia(v2)
    assert result is not None and result.is_ai and result.predicted_model == "suno"
    quick = {**MIPPIA_DONE, "result": {"track.mp3": {"model_0": MIPPIA_MODELS[0], "model_1": MIPPIA_MODELS[1]}}}
    old = {**MIPPIA_DONE, "result": {"track.mp3": MIPPIA_MODELS}}
    for body in (quick, old):
        parsed = parse_mippia(body)
        assert parsed is not None and parsed.ai_score == pytest.approx(((1 - 0.923) + (1 - 0.945)) / 2)
    assert parse_mippia({"task_id": "t", "status": "processing", "result": None, "model_type": "standard"}) is None
    with pytest.raises(ClipRejected, match="boom"):
        parse_mippia({"task_id": "t", "status": "failure", "error": "boom"})


def test_undetectable_answers():
    result = parse_undetectable(UNDETECTABLE_DONE)
    assert result is not None and result.is_ai and result.segment_scores == (0.95, 0.99, 0.97)
    assert parse_undetectable({"id": "x", "status": "analyzing"}) is None
    with pytest.raises(ClipRejected, match="too short"):
        parse_undetectable({"id": "x", "status": "failed", "result": None, "result_details": {"is_valid": False, "message": "too short"}})


def _window(start: int, frames: int, value: float = 0.1) -> Window:
    return Window(0, start, np.full((frames, 1), value, np.float32), 0.0)


def test_clip_counts_overlapping_audio_once():
    clip = Clip()
    for start in (0, 50, 100):  # 100-frame windows, hop 50
        clip.add(_window(start, 100))
    assert clip.frames == 200 and clip.offsets == [0, 50, 100] and clip.samples().shape == (200, 1)


def test_scores_track_music_windows_only_and_levels():
    from streamer.engines.remote.windows import clip_verdict_for

    tracker = ScoreTracker(rolling_windows=2)
    scores = [tracker.add(clip_verdict_for(_window(0, 10), s, d, ())) for s, d in
              [(0.9, Decision.AI), (0.0, Decision.SPEECH), (0.1, Decision.HUMAN), (0.5, Decision.HUMAN)]]  # fmt: skip
    assert [(v.running_ai_score, v.rolling_ai_score) for v in scores] == [(0.9, 0.9), (0.9, 0.9), (0.5, 0.5), (0.5, 0.3)]
    assert level_dbfs(np.zeros((10, 1), np.float32)) == -120.0 and level_dbfs(np.full((10, 1), 0.1, np.float32)) == -20.0


def test_secrets_stay_hidden_and_env_fills_them():
    settings = RemoteEngineSettings(api_key="topsecret").with_env({"AIMD_PEX_CLIENT_ID": "id", "AIMD_PEX_CLIENT_SECRET": "s3"})
    assert "topsecret" not in repr(settings) and "s3" not in repr(settings)
    assert settings.client_id == "id" and settings.client_secret.get_secret_value() == "s3"  # type: ignore[union-attr]
    assert settings.api_key.get_secret_value() == "topsecret"  # type: ignore[union-attr]
