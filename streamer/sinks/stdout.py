"""Print verdicts: JSON lines for machines, a table for people."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from ..results import done_dict, window_dict
from ..types import StreamSummary, WindowVerdict
from .base import SinkBase


class JsonLinesSink(SinkBase):
    """One JSON document per line, flushed at once (Modulate streaming shapes).

    It carries results only: source states go to logs, MQTT and the status page.

    ``{"type":"window","window":{…}}`` per window, ``{"type":"done",…}`` at the
    end; with several sources each line also names its ``source``.
    """

    def __init__(self, out: TextIO | None = None, *, tag_source: bool = False) -> None:
        self._out = out or sys.stdout
        self._tag = tag_source

    def _write(self, source_id: str, doc: dict) -> None:
        if self._tag:
            doc = {"source": source_id, **doc}
        self._out.write(json.dumps(doc, separators=(",", ":")) + "\n")
        self._out.flush()

    async def on_window(self, source_id: str, verdict: WindowVerdict) -> None:
        self._write(source_id, {"type": "window", "window": window_dict(verdict)})

    async def on_summary(self, source_id: str, summary: StreamSummary) -> None:
        self._write(source_id, done_dict(summary))


def format_table(name: str, summary: StreamSummary) -> str:
    """A person-readable verdict: one row per window, then the clip summary."""
    lines = [f"{name}", ""]
    if summary.windows:
        lines.append("   window        AI score  decision  vocal  instr  silence  level")
        for v in summary.windows:
            lines.append(
                f"  {_clock(v.start_ms)}–{_clock(v.end_ms)}  {v.ai_score:8.2f}  {v.decision.value:8s}"
                f"  {v.vocal_percentage:4.0f}%  {v.instrumental_percentage:4.0f}%  {v.silence_percentage:6.0f}%"
                f"  {v.level_dbfs:5.1f} dBFS"
            )
        lines.append("")
    if summary.status != "ok":
        lines.append(f"  status: {summary.status.value} — {summary.message}")
    verdict = "AI-GENERATED" if summary.is_ai else "not AI"
    lines.append(
        f"  verdict: {verdict} ({summary.primary_verdict.value}), ai_score {summary.ai_score:.2f}, "
        f"{summary.duration_s:.1f} s, {summary.window_count} windows"
    )
    lines.append(
        f"  content: vocal {summary.vocal_percentage:.0f}%, instrumental {summary.instrumental_percentage:.0f}%, "
        f"silence {summary.silence_percentage:.0f}%, speech {summary.speech_percentage:.0f}%"
    )
    for item in summary.evidence:
        lines.append(f"  evidence: {item}")
    return "\n".join(lines)


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
