"""Vendor answers for a whole clip → :class:`ClipResult`, sans I/O (vendor-protocols.md §1.2, §2.3, §3.3, §4.2).

Parsers raise :class:`~streamer.vendors.modulate.WireFormatError` on a shape
the docs do not describe, and :class:`ClipRejected` when the vendor processed
the clip but declined to judge it (Pex ``status`` other than ``ok``, a failed
task), carrying the vendor's own message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...types import PrimaryVerdict, Status
from ...vendors.modulate import WireFormatError, parse_window


@dataclass(frozen=True, slots=True)
class ClipResult:
    ai_score: float  # 0–1
    is_ai: bool
    #: Per-segment AI scores evenly spanning the clip (empty: one score for the whole clip).
    segment_scores: tuple[float, ...] = ()
    evidence: tuple[str, ...] = ()
    predicted_model: str | None = None
    predicted_model_score: float | None = None


class ClipRejected(Exception):
    """The vendor answered but gave no verdict; ``status`` in Pex's vocabulary."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireFormatError(f"{what} is not a number: {value!r}")
    return float(value)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireFormatError(f"{what} is not an object")
    return value


# ---------------------------------------------------------------- Pex


def parse_pex(body: Any) -> ClipResult:
    body = _object(body, "Pex answer")
    status = body.get("status")
    if status != Status.OK.value:
        try:
            raise ClipRejected(Status(status), str(body.get("message", status)))
        except ValueError:
            raise WireFormatError(f"unknown Pex status {status!r}") from None
    if not isinstance(body.get("is_ai"), bool):
        raise WireFormatError("Pex answer without is_ai")
    model = body.get("predicted_model") or None
    model_score = body.get("predicted_model_score")
    return ClipResult(
        ai_score=_number(body.get("ai_score"), "ai_score"),
        is_ai=body["is_ai"],
        evidence=(f"pex: is_ai={str(body['is_ai']).lower()}",),
        predicted_model=model,
        predicted_model_score=_number(model_score, "predicted_model_score") if model and model_score is not None else None,
    )


# ---------------------------------------------------------------- Modulate batch


def parse_modulate_batch(body: Any, *, ai_threshold: float = 0.5) -> ClipResult:
    body = _object(body, "Modulate answer")
    try:
        verdict = PrimaryVerdict(body["primary_verdict"])
        vocal, instrumental = float(body["vocal_ai_confidence"]), float(body["instrumental_ai_confidence"])
        windows = [parse_window(w, ai_threshold=ai_threshold) for w in body["windows"]]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, WireFormatError):
            raise
        raise WireFormatError(f"malformed Modulate batch answer: {exc!r}") from exc
    score = {PrimaryVerdict.AI_VOCAL: vocal, PrimaryVerdict.AI_INSTRUMENTAL: instrumental}.get(verdict, max(vocal, instrumental))
    return ClipResult(score, verdict is not PrimaryVerdict.NOT_AI, tuple(w.ai_score for w in windows), (f"modulate: {verdict.value}",))


# ---------------------------------------------------------------- Mippia


def _fake_probability(analysis: Mapping[str, Any]) -> float:
    """Mippia's confidence is that of the predicted label; turn it into P(fake)."""
    confidence = _number(analysis.get("confidence"), "confidence")
    return confidence if analysis.get("prediction") == "fake" else 1.0 - confidence


def _mippia_models(result: Any) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    """``(final_result, model results)`` from any of the three documented result shapes.

    API reference: ``{filename: {final_result, model_results: [...]}}`` (pro-v2 without
    the filename level); quick-start: ``{filename: {"model_0": {...}, ...}}``; older docs:
    ``{filename: [model results]}``.
    """
    body = _object(result, "Mippia result")
    if "final_result" not in body and "model_results" not in body:
        if len(body) != 1:
            raise WireFormatError("Mippia result has no final_result and is not keyed by one file name")
        body = next(iter(body.values()))
    if isinstance(body, list):
        return None, [_object(m, "model result") for m in body]
    body = _object(body, "Mippia result")
    if "model_results" in body or "final_result" in body:
        final = body.get("final_result")
        return (_object(final, "final_result") if final is not None else None), list(body.get("model_results") or [])
    return None, [_object(m, "model result") for m in body.values()]


def _attribution(models: Sequence[Mapping[str, Any]]) -> tuple[str | None, float | None]:
    for model in models:
        focus = (model.get("config") or {}).get("analysis_focus", "")
        if focus == "AI Model Identification" or "all_probs" in (model.get("overall_analysis") or {}):
            overall = model.get("overall_analysis") or {}
            name = overall.get("prediction")
            if isinstance(name, str) and name not in ("real", "other"):
                return name, _number(overall.get("confidence", 0.0), "confidence")
    return None, None


def parse_mippia(body: Any, *, ai_threshold: float = 0.5) -> ClipResult | None:
    """A poll or webhook body; None while the task is still pending or processing."""
    body = _object(body, "Mippia task")
    status = body.get("status")
    if status in ("pending", "processing"):
        return None
    if status == "failure":
        raise ClipRejected(Status.ERROR, str(body.get("error") or "the task failed"))
    if status != "success":
        raise WireFormatError(f"unknown Mippia task status {status!r}")
    final, models = _mippia_models(body.get("result"))
    binary = [m for m in models if set((m.get("config") or {}).get("labels", ["real", "fake"])) == {"real", "fake"}]
    if final is not None:
        score = _fake_probability(final)
    elif binary:
        score = sum(_fake_probability(_object(m.get("overall_analysis"), "overall_analysis")) for m in binary) / len(binary)
    else:
        raise WireFormatError("Mippia result has neither final_result nor a real/fake model")
    segments: tuple[float, ...] = ()
    for model in binary:
        if seg := model.get("segment_analysis"):
            pairs = zip(seg.get("prediction") or [], seg.get("confidence") or [])
            segments = tuple(_fake_probability({"prediction": p, "confidence": c}) for p, c in pairs)
            break
    predicted, predicted_score = _attribution(models)
    return ClipResult(score, score >= ai_threshold, segments, (f"mippia {body.get('model_type', '')}: P(fake)={score:.2f}",),
                      predicted if score >= ai_threshold else None, predicted_score if score >= ai_threshold else None)  # fmt: skip


# ---------------------------------------------------------------- Undetectable


def parse_undetectable(body: Any, *, ai_threshold: float = 0.5) -> ClipResult | None:
    """A ``/query`` answer; None while pending or analysing. Scores are 0–1 (clients threshold 0.5)."""
    body = _object(body, "Undetectable answer")
    status = body.get("status")
    if status in ("pending", "analyzing"):
        return None
    details = body.get("result_details") or {}
    if status == "failed" or (status == "done" and details.get("is_valid") is False):
        raise ClipRejected(Status.ERROR, str(details.get("message") or "the analysis failed"))
    if status != "done":
        raise WireFormatError(f"unknown Undetectable status {status!r}")
    score = _number(details.get("mean_ai_prob", body.get("result")), "mean_ai_prob")
    chunks = tuple(_number(c, "chunk probability") for c in details.get("individual_chunks_ai_prob") or ())
    return ClipResult(score, score >= ai_threshold, chunks, (f"undetectable: mean_ai_prob={score:.2f}",))
