"""The picture behind a verdict: the residual spectrum of a stream's music and its strongest decoder grid.

The local engine judges the mean log spectrum of every music window; the
report redraws that spectrum. :class:`EvidenceTap` wraps any engine: from the
local engine it takes that very spectrum (exact, at no cost); around other
engines it adds up the spectra of a sample of the windows they called music.
Either way the report needs no second decode of the input.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from ..engines.base import Engine, EngineSession, StreamInfo
from ..engines.local.comb import CombScorer, Grid
from ..engines.local.spectrum import BAND_HZ, SpectrumSum, band_hz, downmix, frame_db_sum, peak_residual
from ..types import ClipVerdict, Decision, Window, WindowVerdict

#: Strongest-grid z that real music reaches at most: the 99th percentile on the
#: corpus is 6.3 (4 s) to 6.7 (whole file) — streamer/engines/local/scoring.py.
REAL_MUSIC_Z = 6.7
_MUSIC = frozenset({Decision.AI, Decision.HUMAN})
#: The plot averages the first FULL_WINDOWS music windows, then every SAMPLE_EVERY-th:
#: decoder peaks are stationary, so a quarter of a long input draws the same picture,
#: and the report must add at most 20 % to `aimd analyze` (scripts/bench_report.py).
FULL_WINDOWS = 8
SAMPLE_EVERY = 4


@dataclass(frozen=True)
class Evidence:
    """Residual spectrum (dB above the smooth envelope) and the decoder grid that fits it best."""

    freqs_hz: np.ndarray
    residual_db: np.ndarray
    grid: Grid
    z: float  # how far the grid's peaks stand above grids of nearby spacing, in σ

    @property
    def detected(self) -> bool:
        """Peaks stronger than real music ever shows (weaker ones are drawn, but not called a decoder's)."""
        return self.z > REAL_MUSIC_Z

    @property
    def peaks_hz(self) -> np.ndarray:
        """The grid's multiples inside the analysed band."""
        spacing = self.grid.spacing_hz
        first = int(np.ceil(BAND_HZ[0] / spacing))
        return np.arange(first, int(self.grid.top_hz // spacing) + 1) * spacing

    def pooled(self, points: int) -> tuple[np.ndarray, np.ndarray]:
        """About ``points`` (frequency, residual) pairs; the max over each group keeps every narrow peak."""
        group = max(1, -(-len(self.residual_db) // points))
        usable = len(self.residual_db) // group * group
        return self.freqs_hz[:usable:group], self.residual_db[:usable].reshape(-1, group).max(axis=1)

    @property
    def label(self) -> str:
        rate_khz = f"{self.grid.rate / 1000:g} kHz"
        where = f"every {self.grid.spacing_hz:.1f} Hz"
        if self.detected:
            return f"peaks {where} — typical of a decoder with total stride {self.grid.stride} at {rate_khz}"
        return f"no decoder peaks beyond what real music shows (strongest grid: {where}, stride {self.grid.stride} at {rate_khz})"


def evidence_from_spectrum(mean_db: np.ndarray, comb: CombScorer) -> Evidence:
    residual = peak_residual(mean_db)
    result = comb.score(residual)
    return Evidence(band_hz(), residual, comb.bank[result.best], result.best_z)


class _TapSession:
    """Keeps the stream's music spectrum: the local engine's own (exact, free), else sampled windows."""

    def __init__(self, inner: EngineSession, spectrum: SpectrumSum) -> None:
        self._inner = inner
        self._spectrum = spectrum
        self._exact = hasattr(inner, "mean_spectrum")
        self._music_windows = 0

    async def analyze(self, window: Window) -> WindowVerdict:
        verdict = await self._inner.analyze(window)
        if verdict.decision in _MUSIC and not self._exact:
            if self._music_windows < FULL_WINDOWS or self._music_windows % SAMPLE_EVERY == 0:
                await asyncio.to_thread(self._add, window.samples)
            self._music_windows += 1
        return verdict

    def _add(self, samples: np.ndarray) -> None:
        self._spectrum.add(*frame_db_sum(downmix(samples)))

    async def finish(self) -> ClipVerdict:
        clip = await self._inner.finish()
        if self._exact and (mean := self._inner.mean_spectrum()) is not None:
            self._spectrum.add(mean, 1)
        return clip

    async def aclose(self) -> None:
        await self._inner.aclose()


class EvidenceTap:
    """Implements :class:`~streamer.engines.base.Engine` around ``engine``; keeps each stream's music spectrum.

    Call :meth:`take` once a stream's analysis has returned.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.name = engine.name
        self.model_version = engine.model_version
        self._comb = CombScorer()
        self._spectra: dict[str, SpectrumSum] = {}

    def open_session(self, info: StreamInfo) -> EngineSession:
        spectrum = self._spectra[info.source_id] = SpectrumSum()
        return _TapSession(self._engine.open_session(info), spectrum)

    def take(self, source_id: str) -> Evidence | None:
        """The evidence of ``source_id``'s last stream, or None when it held no music; forgets it."""
        spectrum = self._spectra.pop(source_id, None)
        mean = None if spectrum is None else spectrum.mean()
        return None if mean is None else evidence_from_spectrum(mean, self._comb)

    async def aclose(self) -> None:
        await self._engine.aclose()
