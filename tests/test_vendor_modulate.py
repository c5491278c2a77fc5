"""The pure Modulate wire layer: query validation strings, builders, parsers, session."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.config import AnalysisSettings
from streamer.types import Decision, WindowVerdict
from streamer.vendors import modulate
from streamer.vendors.modulate import AUDIO_FORMATS, CloseCode, QueryError, parse_stream_query
from streamer.vendors.modulate_stream import Analyze, Close, Send, StreamingSession


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"audio_format": "mp4"}, "Invalid audio_format='mp4'. Valid values: ['aac', 'aiff', 'alaw', 'f32be'"),
        ({"audio_format": "s16le"}, "Raw audio formats require sample_rate and num_channels query parameters"),
        ({"sample_rate": "16000"}, "sample_rate and num_channels require audio_format to be specified"),
        ({"audio_format": "s16le", "sample_rate": "50000", "num_channels": "1"}, "Invalid sample_rate=50000. Valid values: [8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000]"),
        ({"audio_format": "s16le", "sample_rate": "16000", "num_channels": "12"}, "Invalid num_channels=12. Must be between 1 and 8"),
        ({}, "audio_format query parameter is required. Example: audio_format=s16le&sample_rate=16000&num_channels=1"),
    ],
)
def test_documented_validation_errors(query, error):
    with pytest.raises(QueryError) as exc:
        parse_stream_query(query)
    assert str(exc.value).startswith(error)
    assert exc.value.close_code == CloseCode.INVALID_PARAMS


def test_format_list_is_the_documented_27():
    assert len(AUDIO_FORMATS) == 27 and list(AUDIO_FORMATS) == sorted(AUDIO_FORMATS)
    assert str(modulate.ErrorText.invalid_format("mp4")).endswith("'u8', 'wav', 'webm']")


@given(st.dictionaries(st.sampled_from(["audio_format", "sample_rate", "num_channels", "x"]), st.text(max_size=8)))
def test_any_query_is_accepted_or_rejected_cleanly(query):
    try:
        params = parse_stream_query(query)
    except QueryError as exc:
        assert str(exc)
    else:
        assert params.audio_format in AUDIO_FORMATS


def _verdict(start_ms: int, ai: bool, vocal: float = 80.0) -> WindowVerdict:
    return WindowVerdict(
        start_ms=start_ms, end_ms=start_ms + 4000, vocal_percentage=vocal, vocal_ai_percentage=100.0 if ai else 0.0,
        vocal_ai_confidence=0.9 if ai else 0.2, instrumental_percentage=70.0, instrumental_ai_percentage=0.0,
        instrumental_ai_confidence=0.0, silence_percentage=5.0, speech_percentage=0.0, level_dbfs=-20.0,
        ai_score=0.9 if ai else 0.2, decision=Decision.AI if ai else Decision.HUMAN, running_ai_score=0.5,
        rolling_ai_score=0.5,
    )  # fmt: skip


@pytest.mark.parametrize("v2", [False, True])
def test_window_round_trips_through_both_shapes(v2):
    verdict = _verdict(4000, ai=True)
    parsed = modulate.parse_window(modulate.window_message(verdict, v2=v2)["window"])
    assert (parsed.start_ms, parsed.end_ms, parsed.decision) == (4000, 8000, Decision.AI)
    assert parsed.ai_score == pytest.approx(0.9)


def test_streaming_window_has_no_instrumental_ai_fields():
    window = modulate.window_message(_verdict(0, ai=False))["window"]
    assert not any(k.startswith("instrumental_ai") for k in window) and len(window) == 7


def test_parse_window_rejects_garbage_with_a_clear_error():
    with pytest.raises(modulate.WireFormatError):
        modulate.parse_window({"start_time_ms": 0})


class _Identity:
    """Float32 bytes straight through: the session's decoding is pluggable."""

    def feed(self, data: bytes) -> list[np.ndarray]:
        return [np.frombuffer(data, np.float32).reshape(-1, 1)]

    def flush(self) -> list[np.ndarray]:
        return []

    def close(self) -> None:
        pass


def test_session_windows_then_bad_text_frame_closes_1003():
    session = StreamingSession(AnalysisSettings(), lambda p: _Identity(), engine="t", model_version="0")
    assert session.connect({"audio_format": "wav"}) == []
    actions = session.receive_bytes(np.zeros(44_100 * 9, np.float32).tobytes(), now=0.0)
    assert [a.window.index for a in actions if isinstance(a, Analyze)] == [0, 1]
    actions = session.receive_text("stop", now=0.0)
    assert isinstance(actions[0], Send) and actions[0].message["type"] == "error"
    assert actions[-1] == Close(CloseCode.INVALID_PARAMS)
