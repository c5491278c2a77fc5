"""What the report shows for one input, and the verdict in plain words (shared by HTML and PNG)."""

from __future__ import annotations

from dataclasses import dataclass

from ..types import PrimaryVerdict, Status, StreamSummary
from .evidence import Evidence

_PLAIN = {
    PrimaryVerdict.AI_VOCAL: "AI-generated music (with vocals)",
    PrimaryVerdict.AI_INSTRUMENTAL: "AI-generated music (instrumental)",
    PrimaryVerdict.NOT_AI: "Not AI-generated",
}


@dataclass(frozen=True)
class ReportEntry:
    name: str
    summary: StreamSummary
    evidence: Evidence | None
    threshold: float  # the clip threshold the verdict was taken at


def verdict_text(summary: StreamSummary) -> str:
    if summary.status is not Status.OK:
        return f"Not analysed: {summary.status.value} — {summary.message}"
    return f"{_PLAIN[summary.primary_verdict]} — AI score {summary.ai_score:.2f}"
