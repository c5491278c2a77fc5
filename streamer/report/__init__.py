"""Reports of ``aimd analyze``: one self-contained HTML page or one PNG per run."""

from __future__ import annotations

from pathlib import Path

from .entry import ReportEntry, verdict_text
from .evidence import Evidence, EvidenceTap
from .html import render_html
from .png import PngUnavailable, render_png

#: File endings ``--report`` accepts.
REPORT_SUFFIXES = (".html", ".png")


def write_report(dest: Path, entries: list[ReportEntry]) -> None:
    """Write ``entries`` to ``dest``; its suffix (.html or .png) picks the format."""
    suffix = dest.suffix.lower()
    if suffix == ".html":
        dest.write_text(render_html(entries), encoding="utf-8")
    elif suffix == ".png":
        render_png(entries, dest)
    else:
        raise ValueError(f"report must end in {' or '.join(REPORT_SUFFIXES)}, not {dest.name!r}")


__all__ = [
    "REPORT_SUFFIXES", "Evidence", "EvidenceTap", "PngUnavailable", "ReportEntry", "render_html", "render_png",
    "verdict_text", "write_report",
]  # fmt: skip
