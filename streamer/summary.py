"""Fold window verdicts into a stream summary with Modulate's clip semantics.

O(1) memory per stream unless the caller asks to keep the windows (batch
responses list them; an unbounded radio stream must not).
"""

from __future__ import annotations

from .config import AcceptSettings, DecisionSettings
from .types import ClipVerdict, Decision, PrimaryVerdict, Status, StreamSummary, WindowVerdict


class SummaryBuilder:
    def __init__(
        self,
        decision: DecisionSettings,
        accept: AcceptSettings,
        *,
        engine: str,
        model_version: str,
        keep_windows: bool = False,
    ) -> None:
        self._decision = decision
        self._accept = accept
        self._engine = engine
        self._model_version = model_version
        self._keep = keep_windows
        self._windows: list[WindowVerdict] = []
        self.count = 0
        self.window_seconds = 0.0
        self._sum_vocal = self._sum_instr = self._sum_silence = self._sum_speech = 0.0
        self._ai_vocal_seconds = 0.0
        self._vocal_conf_sum = 0.0
        self._vocal_windows = 0
        self._instr_windows = 0  # non-vocal, non-silent
        self._instr_ai_windows = 0
        self._instr_conf_max = 0.0
        self._music_windows = 0

    def add(self, v: WindowVerdict) -> None:
        seconds = (v.end_ms - v.start_ms) / 1000.0
        self.count += 1
        self.window_seconds += seconds
        self._sum_vocal += v.vocal_percentage
        self._sum_instr += v.instrumental_percentage
        self._sum_silence += v.silence_percentage
        self._sum_speech += v.speech_percentage
        if v.decision in (Decision.AI, Decision.HUMAN):
            self._music_windows += 1
        if v.vocal_ai_percentage >= 100 or v.vocal_ai_confidence > 0:
            # Routed to the vocal lane (Modulate: confidence is 0 without sufficient vocals).
            self._vocal_windows += 1
            self._vocal_conf_sum += v.vocal_ai_confidence
            if v.vocal_ai_percentage >= 100:
                self._ai_vocal_seconds += seconds
        elif v.decision is not Decision.SILENCE:
            self._instr_windows += 1
            self._instr_conf_max = max(self._instr_conf_max, v.instrumental_ai_confidence)
            if v.instrumental_ai_percentage >= 100:
                self._instr_ai_windows += 1
        if self._keep:
            self._windows.append(v)

    def status_for(self, duration_s: float, *, file_input: bool) -> Status:
        """The Pex status an input of this duration and content earns."""
        if duration_s < self._accept.min_duration_s or self.count == 0:
            return Status.TOO_SHORT
        if file_input and self._accept.max_duration_s is not None and duration_s > self._accept.max_duration_s:
            return Status.TOO_LONG
        if 100.0 * self._music_windows / self.count < self._accept.min_music_pct:
            return Status.NOT_ENOUGH_MUSIC
        return Status.OK

    def build(
        self,
        clip: ClipVerdict,
        *,
        duration_s: float,
        status: Status,
        message: str = "",
        gap_seconds: float = 0.0,
        dropped_windows: int = 0,
    ) -> StreamSummary:
        n = max(self.count, 1)
        is_ai = status is Status.OK and clip.is_ai
        mean_vocal = self._sum_vocal / n
        if not is_ai:
            verdict = PrimaryVerdict.NOT_AI
        elif mean_vocal >= self._decision.vocal_clip_pct:
            verdict = PrimaryVerdict.AI_VOCAL
        else:
            verdict = PrimaryVerdict.AI_INSTRUMENTAL
        return StreamSummary(
            status=status,
            message=message or status.value,
            duration_s=round(duration_s, 3),
            window_count=self.count,
            primary_verdict=verdict,
            vocal_percentage=round(mean_vocal, 2),
            vocal_ai_percentage=round(100.0 * self._ai_vocal_seconds / duration_s, 2) if duration_s > 0 else 0.0,
            vocal_ai_confidence=round(self._vocal_conf_sum / self._vocal_windows, 4) if self._vocal_windows else 0.0,
            instrumental_percentage=round(self._sum_instr / n, 2),
            instrumental_ai_percentage=(
                round(100.0 * self._instr_ai_windows / self._instr_windows, 2) if self._instr_windows else 0.0
            ),
            instrumental_ai_confidence=round(self._instr_conf_max, 4),
            silence_percentage=round(self._sum_silence / n, 2),
            speech_percentage=round(self._sum_speech / n, 2),
            ai_score=round(clip.ai_score, 4),
            is_ai=is_ai,
            engine=self._engine,
            model_version=self._model_version,
            evidence=clip.evidence,
            gap_seconds=round(gap_seconds, 3),
            dropped_windows=dropped_windows,
            predicted_model=clip.predicted_model if is_ai else None,
            predicted_model_score=clip.predicted_model_score if is_ai else None,
            windows=tuple(self._windows),
        )
