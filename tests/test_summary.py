"""Window verdicts fold into Modulate's clip fields and Pex's statuses."""

from __future__ import annotations

import pytest

from streamer.config import AcceptSettings, DecisionSettings
from streamer.summary import SummaryBuilder
from streamer.types import ClipVerdict, Decision, PrimaryVerdict, Status, WindowVerdict


def _window(i: int, *, vocal: float = 0, ai: bool = False, decision: Decision = Decision.HUMAN, conf: float = 0.3,
            silence: float = 0) -> WindowVerdict:
    vocal_lane = vocal >= 30
    return WindowVerdict(
        start_ms=i * 4000,
        end_ms=(i + 1) * 4000,
        vocal_percentage=vocal,
        vocal_ai_percentage=100.0 if vocal_lane and ai else 0.0,
        vocal_ai_confidence=conf if vocal_lane else 0.0,
        instrumental_percentage=100 - silence,
        instrumental_ai_percentage=100.0 if not vocal_lane and ai else 0.0,
        instrumental_ai_confidence=0.0 if vocal_lane else conf,
        silence_percentage=silence,
        speech_percentage=0,
        level_dbfs=-12,
        ai_score=conf,
        decision=decision,
        running_ai_score=conf,
        rolling_ai_score=conf,
    )


def _builder(**accept) -> SummaryBuilder:
    decision = DecisionSettings(vocal_clip_pct=40.0)  # explicit: the tests must not move with the defaults
    return SummaryBuilder(decision, AcceptSettings(**accept), engine="local", model_version="t", keep_windows=True)


def test_clip_fields_follow_modulate_semantics():
    b = _builder()
    b.add(_window(0, vocal=100, ai=True, conf=0.9, decision=Decision.AI))
    b.add(_window(1, vocal=80, ai=False, conf=0.5))
    b.add(_window(2, vocal=0, ai=True, conf=0.7, decision=Decision.AI))
    b.add(_window(3, vocal=0, ai=False, conf=0.2))
    s = b.build(ClipVerdict(0.8, True, ("peaks",)), duration_s=16.0, status=b.status_for(16.0, file_input=True))
    assert s.status is Status.OK and s.is_ai
    assert s.vocal_percentage == 45.0  # mean over windows
    assert s.vocal_ai_percentage == 25.0  # 4 s of AI-vocal windows out of 16 s
    assert s.vocal_ai_confidence == pytest.approx(0.7)  # mean over vocal windows only
    assert s.instrumental_ai_percentage == 50.0  # of non-vocal, non-silent windows
    assert s.instrumental_ai_confidence == pytest.approx(0.7)  # maximum over non-vocal windows
    assert s.primary_verdict is PrimaryVerdict.AI_VOCAL
    assert len(s.windows) == 4 and s.evidence == ("peaks",)


def test_ai_with_little_vocal_content_is_ai_instrumental_and_human_is_not_ai():
    b = _builder()
    for i in range(4):
        b.add(_window(i, vocal=0, ai=True, decision=Decision.AI))
    assert b.build(ClipVerdict(0.9, True), duration_s=16, status=Status.OK).primary_verdict is PrimaryVerdict.AI_INSTRUMENTAL
    assert b.build(ClipVerdict(0.1, False), duration_s=16, status=Status.OK).primary_verdict is PrimaryVerdict.NOT_AI


def test_a_non_ok_status_is_never_ai():
    b = _builder()
    b.add(_window(0, decision=Decision.AI, ai=True))
    s = b.build(ClipVerdict(0.99, True, predicted_model="suno"), duration_s=4, status=Status.NOT_ENOUGH_MUSIC)
    assert not s.is_ai and s.primary_verdict is PrimaryVerdict.NOT_AI and s.predicted_model is None


def test_statuses_for_short_long_and_unmusical_inputs():
    b = _builder(min_duration_s=4.0, max_duration_s=60.0, min_music_pct=50.0)
    assert b.status_for(3.0, file_input=True) is Status.TOO_SHORT  # no windows at all
    b.add(_window(0, decision=Decision.SILENCE, silence=100))
    b.add(_window(1, decision=Decision.SPEECH))
    b.add(_window(2))
    assert b.status_for(12.0, file_input=True) is Status.NOT_ENOUGH_MUSIC  # 1 of 3 windows is music
    b.add(_window(3))
    assert b.status_for(16.0, file_input=True) is Status.OK
    assert b.status_for(61.0, file_input=True) is Status.TOO_LONG
    assert b.status_for(61.0, file_input=False) is Status.OK  # live streams have no maximum


def test_windows_are_not_kept_unless_asked():
    b = SummaryBuilder(DecisionSettings(), AcceptSettings(), engine="local", model_version="t")
    for i in range(100):
        b.add(_window(i))
    assert b.build(ClipVerdict(0.1, False), duration_s=400, status=Status.OK).windows == ()
