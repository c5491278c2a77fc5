"""Training-free comb score: do the residual's peaks sit on a decoder's stride grid?

A decoder with total stride K running at internal rate R leaves peaks at exact
multiples of R/K Hz (Afchar et al., ISMIR 2025). For every grid in a bank of
plausible (R, K) pairs we take the mean residual on the grid's points and
z-score it against grids of slightly different spacing over the same band.
Scaled null grids hit as many tonal partials as the real grid would by chance,
so a harmonic note raises the null as much as the candidate (lesson 1 of the
issue: searching over scaled grids *for the maximum* raised false positives;
using them as the *reference* does the opposite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spectrum import BAND_HZ, BAND_LO_BIN, BIN_HZ, band_hz

#: Internal sample rates of known generators and codecs (Hz).
DECODER_RATES = (44_100, 48_000, 32_000, 24_000, 22_050, 16_000)  # widest band first: it names shared grids
#: Total strides (products of the last decoder layers' strides) seen in
#: SEANet/Encodec (8·5·4·2), DAC (8·8·4·2), LAC (4·4·4·2·2·2), vocoders (hop 256…).
DECODER_STRIDES = (8, 16, 20, 24, 32, 40, 48, 64, 80, 96, 120, 128, 160, 192, 240, 256, 320, 384, 480, 512)
MIN_SPACING_HZ = 60.0
MIN_POINTS = 3
NULL_GRIDS = 24
#: Null spacings are F·u with |ln u| in this range: far enough from F that no
#: null point lands on a true peak within the first ~dozen multiples.
NULL_LOG_SCALE = (0.03, 0.22)
#: Stay below the decoder's Nyquist: above it a resampled signal holds nothing.
NYQUIST_MARGIN = 0.95


@dataclass(frozen=True, slots=True)
class Grid:
    rate: int
    stride: int

    @property
    def spacing_hz(self) -> float:
        return self.rate / self.stride

    @property
    def label(self) -> str:
        return f"{self.rate}/{self.stride}"

    @property
    def top_hz(self) -> float:
        return min(BAND_HZ[1], NYQUIST_MARGIN * self.rate / 2)


def _grid_bins(spacing: float, top_hz: float) -> np.ndarray:
    """Residual-array indices of the multiples of ``spacing`` inside [BAND_HZ[0], top_hz]."""
    first = int(np.ceil(BAND_HZ[0] / spacing))
    last = int(np.floor(top_hz / spacing))
    return np.rint(np.arange(first, last + 1) * spacing / BIN_HZ).astype(np.int64) - BAND_LO_BIN


def default_bank() -> tuple[Grid, ...]:
    """Every distinct grid of DECODER_RATES × DECODER_STRIDES with enough points in band."""
    seen: set[float] = set()
    bank = []
    for rate in DECODER_RATES:
        for stride in DECODER_STRIDES:
            grid = Grid(rate, stride)
            spacing = round(grid.spacing_hz, 6)
            if spacing < MIN_SPACING_HZ or spacing in seen:
                continue
            if len(_grid_bins(grid.spacing_hz, grid.top_hz)) >= MIN_POINTS:
                seen.add(spacing)
                bank.append(grid)
    return tuple(bank)


@dataclass(frozen=True, slots=True)
class CombResult:
    z: np.ndarray  # one z per grid of the bank
    best: int  # index of the strongest grid

    @property
    def best_z(self) -> float:
        return float(self.z[self.best])


class CombScorer:
    """Precomputes every grid's (and null grid's) bin indices once; scoring is one gather."""

    def __init__(self, bank: tuple[Grid, ...] | None = None, seed: int = 0) -> None:
        self.bank = bank if bank is not None else default_bank()
        rng = np.random.default_rng(seed)
        # Row r = grid * (1 + NULL_GRIDS) + variant owns the slice starting at _starts[r].
        indices = []
        for grid in self.bank:
            log_scale = rng.uniform(*NULL_LOG_SCALE, NULL_GRIDS) * rng.choice((-1.0, 1.0), NULL_GRIDS)
            spacings = np.concatenate(([grid.spacing_hz], grid.spacing_hz * np.exp(log_scale)))
            indices.extend(_grid_bins(spacing, grid.top_hz) for spacing in spacings)
        self._counts = np.array([len(bins) for bins in indices], dtype=np.float64)
        if not self._counts.all():
            raise ValueError("a comb grid has no point in the residual band")
        self._starts = np.concatenate(([0], np.cumsum(self._counts[:-1]))).astype(np.int64)
        self._indices = np.concatenate(indices)
        if self._indices.max() >= len(band_hz()):
            raise ValueError("a comb grid reaches past the residual band")

    def score(self, residual: np.ndarray) -> CombResult:
        # A peak may fall between two bins: take the local max over ±1 bin.
        padded = np.pad(residual, 1)
        widened = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
        # Contiguous per-row slices: reduceat is ~4× faster than a weighted bincount here.
        means = np.add.reduceat(np.take(widened, self._indices), self._starts) / self._counts
        means = means.reshape(len(self.bank), 1 + NULL_GRIDS)
        null = means[:, 1:]
        spread = null.std(axis=1)
        # Digital silence or a perfectly smooth spectrum: no evidence either way.
        floor = 1e-3 * (1.0 + float(np.abs(residual).max()))
        z = (means[:, 0] - null.mean(axis=1)) / np.maximum(spread, floor)
        return CombResult(z=z, best=int(np.argmax(z)))

