"""The timeline and evidence of every input as one PNG, for pasting into a ticket (matplotlib, extra ``report``)."""

from __future__ import annotations

import contextlib
import textwrap
import threading
from pathlib import Path

import numpy as np

from ..types import Decision
from .entry import ReportEntry, verdict_text
from .evidence import REAL_MUSIC_Z

_COLOURS = {Decision.AI: "#d9534f", Decision.HUMAN: "#3c9d5d", Decision.SILENCE: "#b8bec9", Decision.SPEECH: "#5b8fd9"}
_DPI = 100
#: Points of the residual line: more than the image has pixels across the plot.
_SPECTRUM_POINTS = 1_400


class PngUnavailable(RuntimeError):
    """matplotlib is not installed."""


def preload() -> None:
    """Start importing matplotlib in the background (~0.3 s) while the inputs are analysed."""
    threading.Thread(target=_import_quietly, name="aimd-preload-matplotlib", daemon=True).start()


def _import_quietly() -> None:
    with contextlib.suppress(ImportError):  # render_png reports a missing matplotlib properly
        import matplotlib.figure  # noqa: F401


def render_png(entries: list[ReportEntry], dest: Path) -> None:
    try:
        # A bare Figure renders with Agg and skips pyplot's global state and start-up cost.
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise PngUnavailable("--report *.png needs matplotlib: pip install 'aimd[report]'") from exc
    rows = len(entries)
    row_inches = 3.6
    figure = Figure(figsize=(14, row_inches * rows))
    axes = figure.subplots(rows, 2, squeeze=False, gridspec_kw={"width_ratios": [1, 1.3]})
    # Fixed margins instead of tight_layout(), which measures every label (a third of the render time).
    figure.subplots_adjust(left=0.05, right=0.99, wspace=0.18, top=1 - 0.55 / (row_inches * rows),
                           bottom=0.45 / (row_inches * rows), hspace=0.75)  # fmt: skip
    for entry, (timeline, spectrum) in zip(entries, axes, strict=True):
        _timeline(timeline, entry)
        _evidence(spectrum, entry)
    for ax in axes.flat:  # matplotlib builds every tick as a set of artists: a few are plenty
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.yaxis.set_major_locator(MaxNLocator(4))
    # Fast zlib level: the default level spent 0.1 s of a 0.56 s render compressing.
    figure.savefig(dest, dpi=_DPI, pil_kwargs={"compress_level": 1})


def _timeline(ax, entry: ReportEntry) -> None:
    windows = entry.summary.windows
    ax.set_title(f"{entry.name}\n{verdict_text(entry.summary)}", fontsize=10, loc="left")
    if not windows:
        ax.axis("off")
        return
    starts = np.array([v.start_ms for v in windows]) / 1000.0
    widths = np.array([v.end_ms - v.start_ms for v in windows]) / 1000.0
    ax.bar(starts, [v.ai_score for v in windows], width=widths * 0.95, align="edge",
           color=[_COLOURS[v.decision] for v in windows], label="window AI score")  # fmt: skip
    ax.plot(starts + widths / 2, [v.running_ai_score for v in windows], color="#1d2430", lw=2, label="running verdict")
    ax.axhline(entry.threshold, color="#9b1c1c", ls="--", lw=1, label=f"threshold {entry.threshold:.2f}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("AI score")
    ax.legend(loc="upper right", fontsize=8)


def _evidence(ax, entry: ReportEntry) -> None:
    evidence = entry.evidence
    if evidence is None:
        ax.axis("off")
        return
    freqs, residual = evidence.pooled(_SPECTRUM_POINTS)
    ax.plot(freqs / 1000.0, residual, color="#2a4d8f", lw=0.6)
    colour, style = ("#d9534f", "-") if evidence.detected else ("#8a93a3", ":")
    # One collection for the whole grid: an artist per peak (up to ~90) doubled the render time.
    ax.vlines(np.asarray(evidence.peaks_hz) / 1000.0, 0, 1, transform=ax.get_xaxis_transform(),
              colors=colour, linestyles=style, lw=0.8, alpha=0.6)  # fmt: skip
    label = "\n".join(textwrap.wrap(evidence.label, 95))
    ax.set_title(f"{label}\npeak strength {evidence.z:.1f}σ (real music: up to {REAL_MUSIC_Z:g}σ)",
                 fontsize=10, loc="left")  # fmt: skip
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("dB above envelope")
