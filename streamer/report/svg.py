"""The report's charts as inline SVG, drawn here so the HTML needs no script library and no network.

Elements carry classes (``window-bar``, ``grid-peak`` …) so the page's CSS
styles them and tests can count what a person sees.
"""

from __future__ import annotations

from html import escape

import numpy as np

from ..types import WindowVerdict
from .evidence import REAL_MUSIC_Z, Evidence

WIDTH = 900
_PAD_LEFT, _PAD_RIGHT = 48, 12
#: The residual has ~5 600 bins; a max over groups keeps every narrow peak in a lighter path.
_SPECTRUM_POINTS = 1_400
_SHARES = (("vocal_percentage", "vocal"), ("instrumental_percentage", "instrumental"),
           ("speech_percentage", "speech"), ("silence_percentage", "silence"))  # fmt: skip


class _Axis:
    """Maps data values onto pixels linearly."""

    def __init__(self, lo: float, hi: float, start: float, end: float) -> None:
        self._lo, self._scale, self._start = lo, (end - start) / ((hi - lo) or 1.0), start

    def __call__(self, value: float) -> float:
        return round(self._start + (value - self._lo) * self._scale, 1)


def _text(x: float, y: float, body: str, cls: str = "label", anchor: str = "start") -> str:
    return f'<text x="{x}" y="{y}" class="{cls}" text-anchor="{anchor}">{escape(body)}</text>'


def _svg(height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def timeline_svg(windows: tuple[WindowVerdict, ...], threshold: float) -> str:
    """AI score per window (bars by decision), running verdict (line), threshold, and content shares below."""
    end_s = max(v.end_ms for v in windows) / 1000.0
    x = _axis_x(0.0, end_s)
    top, bottom = 10, 150
    y = _Axis(0.0, 1.0, bottom, top)
    body = [_text(4, y(1.0) + 4, "1.0"), _text(4, y(threshold) + 4, f"{threshold:.2f}"), _text(4, y(0.0) + 4, "0")]
    for v in windows:
        x0, x1 = x(v.start_ms / 1000.0), x(v.end_ms / 1000.0)
        height = max(y(0.0) - y(v.ai_score), 1.0)  # a 1 px stub keeps a score-0 window visible
        body.append(
            f'<rect class="window-bar {v.decision.value}" x="{x0}" y="{y(0.0) - height}" width="{max(x1 - x0 - 1, 1)}" '
            f'height="{height}"><title>{_clock(v.start_ms / 1000)}–{_clock(v.end_ms / 1000)}: '
            f"{v.decision.value}, AI score {v.ai_score:.2f}</title></rect>"
        )
    running = " ".join(f"{x((v.start_ms + v.end_ms) / 2000.0)},{y(v.running_ai_score)}" for v in windows)
    body.append(f'<polyline class="running" points="{running}"/>')
    body.append(f'<line class="threshold" x1="{x(0.0)}" x2="{x(end_s)}" y1="{y(threshold)}" y2="{y(threshold)}"/>')
    body.extend(_share_strip(windows, x, 162, 30))
    for tick in np.linspace(0.0, end_s, 6):
        body.append(_text(x(float(tick)), 210, _clock(float(tick)), anchor="middle"))
    return _svg(216, body, "AI score of every window, running verdict and threshold")


def _axis_x(lo: float, hi: float) -> _Axis:
    return _Axis(lo, hi, _PAD_LEFT, WIDTH - _PAD_RIGHT)


def _share_strip(windows: tuple[WindowVerdict, ...], x: _Axis, top: float, height: float) -> list[str]:
    """Vocal / instrumental / speech / silence shares of each window, stacked to 100 %."""
    body = [_text(4, top + height / 2 + 4, "content")]
    for v in windows:
        x0, width = x(v.start_ms / 1000.0), max(x(v.end_ms / 1000.0) - x(v.start_ms / 1000.0) - 1, 1)
        offset = top
        for field, name in _SHARES:
            part = height * getattr(v, field) / 100.0
            if part > 0:
                body.append(f'<rect class="share {name}" x="{x0}" y="{round(offset, 1)}" width="{width}" height="{round(part, 1)}"/>')
                offset += part
    return body


def evidence_svg(evidence: Evidence) -> str:
    """Residual spectrum with the strongest grid marked, and its z next to the range real music reaches."""
    x = _axis_x(evidence.freqs_hz[0], evidence.freqs_hz[-1])
    top, bottom = 28, 170
    peak_db = max(float(evidence.residual_db.max()), 1.0)
    y = _Axis(0.0, peak_db, bottom, top)
    freqs, residual = evidence.pooled(_SPECTRUM_POINTS)
    grid_class = "grid-peak detected" if evidence.detected else "grid-peak"
    body = [_text(_PAD_LEFT, 16, evidence.label, cls="title")]
    for hz in evidence.peaks_hz:
        body.append(f'<line class="{grid_class}" x1="{x(hz)}" x2="{x(hz)}" y1="{top}" y2="{bottom}" data-hz="{hz:.1f}"/>')
    points = " ".join(f"{x(f)},{y(r)}" for f, r in zip(freqs, residual, strict=True))
    body.append(f'<polyline class="residual" points="{points}"/>')
    body.append(_text(4, y(peak_db) + 4, f"{peak_db:.0f} dB"))
    body.append(_text(4, y(0.0) + 4, "0 dB"))
    for khz in range(2, 17, 2):
        body.append(_text(x(khz * 1000.0), bottom + 14, f"{khz} kHz", anchor="middle"))
    body.extend(_z_gauge(evidence.z, 204))
    return _svg(240, body, f"Residual spectrum: {evidence.label}")


def _z_gauge(z: float, top: float) -> list[str]:
    """The grid's z on a scale, over the band real music stays in."""
    hi = max(12.0, z + 1.0)
    x = _Axis(0.0, hi, _PAD_LEFT + 140, WIDTH - _PAD_RIGHT)
    marker = x(min(max(z, 0.0), hi))
    return [
        _text(4, top + 13, "peak strength (σ)"),
        f'<rect class="real-music-range" x="{x(0.0)}" y="{top}" width="{x(REAL_MUSIC_Z) - x(0.0)}" height="18"/>',
        _text(x(REAL_MUSIC_Z / 2), top + 13, f"real music: up to {REAL_MUSIC_Z:g}σ", cls="small", anchor="middle"),
        f'<line class="z-marker" x1="{marker}" x2="{marker}" y1="{top - 4}" y2="{top + 22}"/>',
        _text(marker, top + 32, f"this input: {z:.1f}σ", cls="small", anchor="end" if z > hi / 2 else "start"),
    ]

