"""The timeline and evidence of every input as one PNG, for pasting into a ticket (matplotlib, extra ``report``).

Each input is drawn as a row of its own (:func:`draw_row`) and the rows are
stacked into one image (:class:`.png_stream.PngStream`), so that a second
process can draw one input while the next is analysed (:mod:`.png_process`).
"""

from __future__ import annotations

import textwrap
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engines.local.spectrum import BAND_HZ
from ..types import Decision
from .entry import ReportEntry, verdict_text
from .evidence import REAL_MUSIC_Z, Evidence

if TYPE_CHECKING:  # matplotlib is imported when a PNG is drawn, not with aimd
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.typing import RcKeyType

    #: Pixels saved from a canvas (matplotlib's ``_backend_agg.BufferRegion``, which has no type stubs).
    BufferRegion = object

_COLOURS = {Decision.AI: "#d9534f", Decision.HUMAN: "#3c9d5d", Decision.SILENCE: "#b8bec9", Decision.SPEECH: "#5b8fd9"}
_DPI = 100
_WIDTH_IN, _PLOTS_HEIGHT_IN = 14.0, 3.6
#: An input without plots (a failed one) gets a strip just tall enough for its name and status.
_TEXT_ONLY_HEIGHT_IN = 0.7
#: Fixed axes rectangles, in inches from the row's left / bottom edge. Computed layouts
#: (tight_layout, automatic title placement) measure every label: a third of the render time.
_TIMELINE_X_IN, _TIMELINE_W_IN = 0.7, 5.05
_SPECTRUM_X_IN, _SPECTRUM_W_IN = 6.55, 7.3
_AXES_BOTTOM_IN, _AXES_TOP_IN = 0.45, 3.05
#: Points of the residual line: more than the image has pixels across the plot.
_SPECTRUM_POINTS = 1_400
#: A ticket needs a glance, not a catalogue.
MAX_PNG_INPUTS = 100
NO_MATPLOTLIB = "--report *.png needs matplotlib: pip install 'aimd[report]'"
#: Unhinted glyphs: text is most of a row's render time, and hinting (matplotlib's default
#: force_autohint at 8× resolution) cost 49 vs 38 ms per row for a difference no one sees at 100 dpi.
_FAST_TEXT: dict[RcKeyType, Any] = {"text.hinting": "no_hinting", "text.hinting_factor": 1}


class PngReportError(RuntimeError):
    """The PNG cannot be made: matplotlib is missing, the run has more inputs than one image can show, or the
    process drawing it died."""


def import_matplotlib() -> None:
    """Import what the drawing needs (~0.3 s); raises :class:`PngReportError` when it is missing."""
    try:
        # A bare Figure on an Agg canvas skips pyplot's global state and start-up cost.
        import matplotlib.backends.backend_agg
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        raise PngReportError(NO_MATPLOTLIB) from exc


def warm_up() -> None:
    """Import matplotlib and build this thread's row figure: the first row then costs what every other does."""
    _painter()


def draw_row(entry: ReportEntry) -> np.ndarray:
    """One input's timeline and evidence side by side, as an RGB image (height × width × 3)."""
    if not entry.summary.windows:
        return _text_row(_heading(entry))
    return _painter().paint(entry)


class _RowPainter:
    """The figure of an input with plots, built once: each row only swaps its data in.

    Building the axes and their ticks is a third of the cost of drawing a fresh figure. What
    every row shares (the blank axes, the AI-score and frequency axes) is drawn once, into a
    background that each row starts from: that is a fifth of a row's drawing, and it is done
    while the inputs are still being analysed.
    """

    def __init__(self) -> None:
        import_matplotlib()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(_WIDTH_IN, _PLOTS_HEIGHT_IN), dpi=_DPI)
        self._canvas = FigureCanvasAgg(figure)
        self._timeline = figure.add_axes(_rect(_TIMELINE_X_IN, _TIMELINE_W_IN))
        self._spectrum = figure.add_axes(_rect(_SPECTRUM_X_IN, _SPECTRUM_W_IN))
        _axis_labels(self._timeline, "stream time (s)", "AI score")
        _axis_labels(self._spectrum, "frequency (kHz)", "dB above envelope")
        self._timeline.set_ylim(0, 1.02)
        self._timeline.set_yticks([0, 0.5, 1])
        # Every residual spectrum covers the engine's band: the frequency axis is the same in every row.
        self._spectrum.set_xlim(*_padded(BAND_HZ[0] / 1000.0, BAND_HZ[1] / 1000.0))
        _few_ticks(self._timeline.xaxis, 5)
        _few_ticks(self._spectrum.xaxis, 8)
        _few_ticks(self._spectrum.yaxis, 4)
        # Drawn once, into the background. The axes whose range follows the data are drawn in every row, and so
        # are the spines: they border the data, and a full draw puts them over it.
        self._shared: list[Artist] = [figure.patch, self._timeline.patch, self._timeline.yaxis, self._spectrum.patch,
                                      self._spectrum.xaxis]  # fmt: skip
        self._per_row: list[Artist] = [self._timeline.xaxis, self._spectrum.yaxis, *self._timeline.spines.values(),
                                       *self._spectrum.spines.values()]  # fmt: skip
        self._backgrounds: dict[bool, BufferRegion] = {}
        self._data: list[Artist] = []
        self._background(with_spectrum=True)  # loads the fonts

    def paint(self, entry: ReportEntry) -> np.ndarray:
        for artist in self._data:
            artist.remove()
        background = self._background(with_spectrum=entry.evidence is not None)
        self._data = _timeline(self._timeline, entry)
        if entry.evidence is not None:
            self._data += _evidence(self._spectrum, entry.evidence)
        return _render(self._canvas, background)

    def _background(self, *, with_spectrum: bool) -> BufferRegion:
        """The pixels every row shares (without the spectrum: an input without music), drawn once."""
        self._spectrum.set_visible(with_spectrum)
        if with_spectrum not in self._backgrounds:
            for ax in (self._timeline, self._spectrum):
                _title(ax, "")  # else the previous row's titles would stay in it
            _show(self._shared, True)
            _show(self._per_row, False)
            _render(self._canvas)
            self._backgrounds[with_spectrum] = self._canvas.copy_from_bbox(self._canvas.figure.bbox)
            _show(self._shared, False)
            _show(self._per_row, True)
        return self._backgrounds[with_spectrum]


_per_thread = threading.local()


def _painter() -> _RowPainter:
    if not hasattr(_per_thread, "painter"):
        _per_thread.painter = _RowPainter()
    return _per_thread.painter


def _text_row(text: str) -> np.ndarray:
    import_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH_IN, _TEXT_ONLY_HEIGHT_IN), dpi=_DPI)
    figure.text(_TIMELINE_X_IN / _WIDTH_IN, 0.5, text, fontsize=10, va="center")
    return _render(FigureCanvasAgg(figure))


def _render(canvas: FigureCanvasAgg, background: BufferRegion | None = None) -> np.ndarray:
    """Draw ``canvas`` (over ``background``, when given) and return its pixels as RGB (height × width × 3)."""
    import matplotlib

    with matplotlib.rc_context(_FAST_TEXT):
        if background is None:
            canvas.draw()
        else:  # canvas.draw() would clear the background away
            canvas.restore_region(background)
            canvas.figure.draw(canvas.get_renderer())
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _show(artists: list[Artist], visible: bool) -> None:
    for artist in artists:
        artist.set_visible(visible)


def _rect(left_in: float, width_in: float) -> tuple[float, float, float, float]:
    bottom, top = _AXES_BOTTOM_IN / _PLOTS_HEIGHT_IN, _AXES_TOP_IN / _PLOTS_HEIGHT_IN
    return left_in / _WIDTH_IN, bottom, width_in / _WIDTH_IN, top - bottom


def _heading(entry: ReportEntry) -> str:
    return f"{entry.name}\n{verdict_text(entry.summary)}"


def _timeline(ax: Axes, entry: ReportEntry) -> list[Artist]:
    """AI score bars coloured by decision, the running verdict and the threshold; returns the artists added."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    windows = entry.summary.windows
    starts = np.array([v.start_ms for v in windows]) / 1000.0
    ends = np.array([v.end_ms for v in windows]) / 1000.0
    left, right = starts, starts + (ends - starts) * 0.95  # a gap keeps neighbouring bars apart
    scores = np.array([v.ai_score for v in windows])
    zeros = np.zeros_like(scores)
    corners = [(left, zeros), (left, scores), (right, scores), (right, zeros)]
    bars = np.stack([np.column_stack(corner) for corner in corners], axis=1)  # windows × 4 corners × (x, y)
    # One collection for all bars: a Rectangle artist per window cost 1.5 ms each to build and draw.
    added: list[Artist] = [
        ax.add_collection(PolyCollection(list(bars), facecolors=[_COLOURS[v.decision] for v in windows], linewidths=0)),
        *ax.plot((starts + ends) / 2, [v.running_ai_score for v in windows], color="#1d2430", lw=2,
                 label="running verdict"),
        ax.axhline(entry.threshold, color="#9b1c1c", ls="--", lw=1, label=f"threshold {entry.threshold:.2f}"),
    ]  # fmt: skip
    decisions = [d for d in _COLOURS if any(v.decision is d for v in windows)]
    keys = [Patch(color=_COLOURS[d], label=f"{d.value} window") for d in decisions]
    added.append(ax.legend(handles=[*added[1:], *keys], loc="upper right", fontsize=8))
    ax.set_xlim(0, ends.max())
    _title(ax, _heading(entry))
    return added


def _evidence(ax: Axes, evidence: Evidence) -> list[Artist]:
    """The residual spectrum with the decoder grid that fits it best; returns the artists added."""
    freqs, residual = evidence.pooled(_SPECTRUM_POINTS)
    khz = freqs / 1000.0
    detected = evidence.detected
    added: list[Artist] = [
        *ax.plot(khz, residual, color="#2a4d8f", lw=0.6),
        # One collection for the whole grid: an artist per peak (up to ~90) doubled the render time.
        ax.vlines(np.asarray(evidence.peaks_hz) / 1000.0, 0, 1, transform=ax.get_xaxis_transform(),
                  colors="#d9534f" if detected else "#8a93a3", linestyles="solid" if detected else "dotted",
                  lw=0.8, alpha=0.6),
    ]  # fmt: skip
    ax.set_ylim(*_padded(residual.min(), residual.max()))  # set, as autoscaling would remember the previous row's data
    label = "\n".join(textwrap.wrap(evidence.label, 110))
    _title(ax, f"{label}\npeak strength {evidence.z:.1f}σ (real music: up to {REAL_MUSIC_Z:g}σ)")
    return added


def _padded(lo: float, hi: float) -> tuple[float, float]:
    margin = 0.04 * (hi - lo)
    return lo - margin, hi + margin


def _title(ax: Axes, text: str) -> None:
    # An explicit y stops matplotlib measuring the axes' decorations to place the title.
    ax.set_title(text, fontsize=10, loc="left", y=1.0)


def _axis_labels(ax: Axes, x: str, y: str) -> None:
    """Axis labels a fixed distance (inches) off the axes: placing them by the tick labels' size is 10 % of a draw."""
    from matplotlib.transforms import ScaledTranslation

    inches = ax.figure.dpi_scale_trans
    ax.set_xlabel(x)
    ax.xaxis.set_label_coords(0.5, 0, transform=ax.transAxes + ScaledTranslation(0, -0.26, inches))
    ax.set_ylabel(y)
    ax.yaxis.set_label_coords(0, 0.5, transform=ax.transAxes + ScaledTranslation(-0.45, 0, inches))


def _few_ticks(axis: Axis, count: int) -> None:
    """matplotlib builds every tick as five artists: a handful is plenty, built now rather than in a row's draw
    (~1.2 ms each; the first row used to build ten)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(count))
    axis.get_major_ticks(count + 2)  # the most MaxNLocator(count) returns: count intervals and one beyond each end
