"""Typed settings. One object carries every option; the CLI fills it now, the
YAML config of service mode fills the same models later."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSettings(_Strict):
    length_s: float = Field(4.0, gt=0, le=60, description="Analysis window length, seconds of stream time.")
    hop_s: float | None = Field(None, gt=0, le=60, description="Hop between window starts; default = length (no overlap).")


class DecisionSettings(_Strict):
    """Thresholds that turn scores into decisions. Defaults come from docs/accuracy.md."""

    window_ai_threshold: float = Field(0.5, ge=0, le=1, description="A window is AI when its ai_score reaches this.")
    clip_ai_threshold: float = Field(0.5, ge=0, le=1, description="A stream is AI when its accumulated ai_score reaches this.")
    vocal_window_pct: float = Field(50.0, ge=0, le=100, description="A window has 'sufficient vocals' (Modulate routing) from this vocal share.")
    vocal_clip_pct: float = Field(50.0, ge=0, le=100, description="An AI stream is 'ai-vocal-music' when its mean vocal share reaches this.")
    silence_dbfs: float = Field(-55.0, le=0, description="Audio quieter than this (short-term RMS) is silence.")
    rolling_windows: int = Field(6, ge=1, le=64, description="Windows in the rolling verdict (6 × 4 s = 24 s).")


class AcceptSettings(_Strict):
    """When an input is too short, too long or not music (Pex status vocabulary)."""

    min_duration_s: float = Field(4.0, ge=0, description="Shorter inputs are 'too_short' (one full window by default).")
    max_duration_s: float | None = Field(None, gt=0, description="Longer file inputs are 'too_long' (unlimited by default).")
    min_music_pct: float = Field(20.0, ge=0, le=100, description="Below this share of music windows an input is 'not_enough_music'.")


class AnalysisSettings(_Strict):
    window: WindowSettings = WindowSettings()
    decision: DecisionSettings = DecisionSettings()
    accept: AcceptSettings = AcceptSettings()
    engine: str = Field("local", description="Engine name: local (more come with remote engines).")

    @model_validator(mode="after")
    def _hop_not_absurd(self) -> "AnalysisSettings":
        hop = self.window.hop_s
        if hop is not None and hop > 4 * self.window.length_s:
            raise ValueError("window.hop_s may be at most 4 × window.length_s")
        return self
