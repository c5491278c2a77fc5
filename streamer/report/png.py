"""The timeline and evidence of every input as one PNG, for pasting into a ticket (matplotlib, extra ``report``).

Each input is drawn as a row of its own (:func:`draw_row`) and the rows are
stacked into one image (:func:`save_rows`), so a background process can draw
one input while the next is being analysed (:mod:`.png_process`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ..types import Decision
from .entry import ReportEntry, verdict_text
from .evidence import REAL_MUSIC_Z

_COLOURS = {Decision.AI: "#d9534f", Decision.HUMAN: "#3c9d5d", Decision.SILENCE: "#b8bec9", Decision.SPEECH: "#5b8fd9"}
_DPI = 100
_WIDTH_IN = 14.0
_PLOTS_HEIGHT_IN = 3.6
#: An input without plots (a failed one) gets a strip just tall enough for its name and status.
_TEXT_ONLY_HEIGHT_IN = 0.7
#: Fixed axes rectangles, in inches from the row's left / bottom edge. Computed layouts
#: (tight_layout, automatic title placement) measure every label: a third of the render time.
_TIMELINE_X_IN, _TIMELINE_W_IN = 0.7, 5.05
_SPECTRUM_X_IN, _SPECTRUM_W_IN = 6.55, 7.3
_AXES_BOTTOM_IN, _AXES_TOP_IN = 0.45, 3.05
#: Points of the residual line: more than the image has pixels across the plot.
_SPECTRUM_POINTS = 1_400
#: Agg cannot draw an image taller than 2**16 pixels, and a ticket needs a glance, not a catalogue.
MAX_PNG_INPUTS = 100


class PngUnavailable(RuntimeError):
    """matplotlib is not installed."""


def import_matplotlib() -> None:
    """Import what :func:`draw_row` needs (~0.3 s); raises :class:`PngUnavailable` when it is missing."""
    try:
        # A bare Figure renders with Agg and skips pyplot's global state and start-up cost.
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        raise PngUnavailable("--report *.png needs matplotlib: pip install 'aimd[report]'") from exc


def draw_row(entry: ReportEntry) -> np.ndarray:
    """One input's timeline and evidence side by side, as an RGB image (height × width × 3)."""
    import_matplotlib()
    from matplotlib.figure import Figure

    plotted = bool(entry.summary.windows)
    height = _PLOTS_HEIGHT_IN if plotted else _TEXT_ONLY_HEIGHT_IN
    figure = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
    if plotted:
        _timeline(figure.add_axes(_rect(_TIMELINE_X_IN, _TIMELINE_W_IN, height)), entry)
        if entry.evidence is not None:
            _evidence(figure.add_axes(_rect(_SPECTRUM_X_IN, _SPECTRUM_W_IN, height)), entry)
    else:
        figure.text(_TIMELINE_X_IN / _WIDTH_IN, 0.5, _heading(entry), fontsize=10, va="center")
    canvas = figure.canvas  # a bare Figure's canvas is Agg's
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_rows(rows: list[np.ndarray], dest: Path) -> None:
    from PIL import Image

    # Fast zlib level: the default level spent 0.1 s of a 0.56 s render compressing.
    Image.fromarray(np.concatenate(rows)).save(dest, format="PNG", compress_level=1)


def render_png(entries: list[ReportEntry], dest: Path) -> None:
    """All of ``entries``, one row each, into ``dest``."""
    save_rows([draw_row(entry) for entry in entries], dest)


def _rect(left_in: float, width_in: float, height_in: float) -> tuple[float, float, float, float]:
    bottom = _AXES_BOTTOM_IN / height_in
    return left_in / _WIDTH_IN, bottom, width_in / _WIDTH_IN, _AXES_TOP_IN / height_in - bottom


def _heading(entry: ReportEntry) -> str:
    return f"{entry.name}\n{verdict_text(entry.summary)}"


def _timeline(ax, entry: ReportEntry) -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    windows = entry.summary.windows
    starts = np.array([v.start_ms for v in windows]) / 1000.0
    ends = np.array([v.end_ms for v in windows]) / 1000.0
    left, right = starts, starts + (ends - starts) * 0.95  # a gap keeps neighbouring bars apart
    scores = np.array([v.ai_score for v in windows])
    # One collection for all bars: a Rectangle artist per window cost 1.5 ms each to build and draw.
    bars = np.stack([np.c_[left, 0 * scores], np.c_[left, scores], np.c_[right, scores], np.c_[right, 0 * scores]], 1)
    ax.add_collection(PolyCollection(bars, facecolors=[_COLOURS[v.decision] for v in windows], linewidths=0))
    ax.plot((starts + ends) / 2, [v.running_ai_score for v in windows], color="#1d2430", lw=2, label="running verdict")
    ax.axhline(entry.threshold, color="#9b1c1c", ls="--", lw=1, label=f"threshold {entry.threshold:.2f}")
    decisions = [d for d in _COLOURS if any(v.decision is d for v in windows)]
    keys = [Patch(color=_COLOURS[d], label=f"{d.value} window") for d in decisions]
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *keys], loc="upper right", fontsize=8)
    ax.set_xlim(0, ends.max())
    ax.set_ylim(0, 1.02)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    _title(ax, _heading(entry))
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("AI score")
    _few_ticks(ax.xaxis, 6)


def _evidence(ax, entry: ReportEntry) -> None:
    evidence = entry.evidence
    freqs, residual = evidence.pooled(_SPECTRUM_POINTS)
    ax.plot(freqs / 1000.0, residual, color="#2a4d8f", lw=0.6)
    colour, style = ("#d9534f", "-") if evidence.detected else ("#8a93a3", ":")
    # One collection for the whole grid: an artist per peak (up to ~90) doubled the render time.
    ax.vlines(np.asarray(evidence.peaks_hz) / 1000.0, 0, 1, transform=ax.get_xaxis_transform(),
              colors=colour, linestyles=style, lw=0.8, alpha=0.6)  # fmt: skip
    label = "\n".join(textwrap.wrap(evidence.label, 110))
    _title(ax, f"{label}\npeak strength {evidence.z:.1f}σ (real music: up to {REAL_MUSIC_Z:g}σ)")
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("dB above envelope")
    _few_ticks(ax.xaxis, 8)
    _few_ticks(ax.yaxis, 4)


def _title(ax, text: str) -> None:
    # An explicit y stops matplotlib measuring the axes' decorations to place the title on every draw.
    ax.set_title(text, fontsize=10, loc="left", y=1.0)


def _few_ticks(axis, count: int) -> None:
    """matplotlib builds every tick as five artists: a handful is plenty."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(count))
