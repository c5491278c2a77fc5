"""Reports of ``aimd analyze``: one self-contained HTML page or one PNG per run."""

from __future__ import annotations

from pathlib import Path

from .entry import ReportEntry, verdict_text
from .evidence import Evidence, EvidenceTap
from .html import render_html
from .png import PngReportError
from .png_process import PngReport

#: File endings ``--report`` accepts.
REPORT_SUFFIXES = (".html", ".png")


class HtmlReport:
    """Collects the inputs of a run into ``dest``; the same interface as :class:`PngReport`."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self._entries: list[ReportEntry] = []

    def add(self, entry: ReportEntry) -> None:
        self._entries.append(entry)

    def write(self) -> None:
        self.dest.write_text(render_html(self._entries), encoding="utf-8")

    def close(self) -> None:
        """Nothing to release: the page is rendered in :meth:`write`."""


Report = HtmlReport | PngReport


def open_report(dest: Path, inputs: int) -> Report:
    """The report of a run of ``inputs`` inputs; ``dest``'s suffix (.html or .png) picks the format."""
    suffix = dest.suffix.lower()
    if suffix == ".html":
        return HtmlReport(dest)
    if suffix == ".png":
        return PngReport(dest, inputs)
    raise ValueError(f"report must end in {' or '.join(REPORT_SUFFIXES)}, not {dest.name!r}")


__all__ = [
    "REPORT_SUFFIXES", "Evidence", "EvidenceTap", "HtmlReport", "PngReport", "PngReportError", "Report", "ReportEntry",
    "open_report", "render_html", "verdict_text",
]  # fmt: skip
