"""The learned linear model on the fingerprint, stored as a pickle-free .npz.

Features are the peak residual (1–16 kHz, one value per bin) minus its local
mean, and the comb z of every grid of the bank, so the learned weights can pick
up grids the bank lacks while the comb keeps its training-free evidence.
``scripts/train_local.py`` writes the file; nothing here imports scikit-learn.
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .comb import CombScorer
from .spectrum import RESIDUAL_CLIP_DB, band_hz

DEFAULT_PATH = Path(__file__).with_name("model") / "fingerprint.npz"
#: Comb z is divided by this so it lives on the residual's 0–1 scale.
COMB_Z_SCALE = 10.0
#: Width (bins, ≈ 200 Hz) of the local mean taken off the residual. Without it the
#: model learnt "many peaks at 5–13 kHz = AI": sampled instruments (a hi-hat replayed
#: from one recording) have that too, and 19 % of FluidR3-rendered pieces were flagged,
#: against 4 % with it (docs/model.md). Only peaks that stand out from their
#: neighbourhood, as a decoder grid's do, can now move the logit.
LOCAL_MEAN_BINS = 75


class ModelError(ValueError):
    """The model file is missing, corrupted or built for another feature layout."""


def load_arrays(path: Path, keys: tuple[str, ...], what: str, rebuild: str) -> dict[str, np.ndarray]:
    """The ``keys`` arrays of the ``.npz`` model file at ``path``, loaded without pickle.

    A missing or unreadable file raises :class:`ModelError` naming ``what`` it is and the
    ``rebuild`` command; checking the arrays against the code is the caller's job.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in keys}
    except FileNotFoundError as exc:
        raise ModelError(f"{what} not found: {path} (rebuild it with {rebuild})") from exc
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{what} {path} is corrupted or incomplete: {exc}") from exc


@functools.cache  # built once: it was 85 % of a training feature vector's cost
def _local_mean_sources(bins: int) -> np.ndarray:
    """(bins, LOCAL_MEAN_BINS) residual indices each bin's local mean reads (edges repeat); read-only."""
    half = LOCAL_MEAN_BINS // 2
    sources = np.clip(np.arange(bins)[:, None] + np.arange(-half, half + 1), 0, bins - 1)
    sources.flags.writeable = False  # shared by every caller
    return sources


def local_detail(residual: np.ndarray) -> np.ndarray:
    """The residual minus its LOCAL_MEAN_BINS running mean (the operator the model is trained on)."""
    return residual - residual[_local_mean_sources(residual.shape[0])].mean(axis=1)


def local_detail_adjoint(weights: np.ndarray) -> np.ndarray:
    """Weights w' with ``w' · r == w · local_detail(r)`` for every residual r: scoring folds the
    local mean into the weights once instead of taking it per window."""
    sources = _local_mean_sources(weights.shape[0])
    spread = np.bincount(sources.ravel(), np.repeat(weights / LOCAL_MEAN_BINS, LOCAL_MEAN_BINS), weights.shape[0])
    return weights - spread


def features(residual: np.ndarray, comb_z: np.ndarray) -> np.ndarray:
    """One training feature vector: the residual's local detail on a ±1 scale, then comb z scaled
    to about [-0.5, 3]. ``LinearModel.logit`` computes the same logit without building it."""
    return np.concatenate([local_detail(residual) / RESIDUAL_CLIP_DB, comb_z / COMB_Z_SCALE]).astype(np.float32)


def grid_signature(comb: CombScorer) -> np.ndarray:
    """The bank's grid spacings: a model only fits the bank it was trained with."""
    return np.array([g.spacing_hz for g in comb.bank], dtype=np.float64)


@dataclass(frozen=True)
class LinearModel:
    version: str
    coef: np.ndarray  # (features,)
    intercept: float
    #: Logit offsets per accumulated window count (log2-interpolated): the score
    #: crosses 0.5 at the operating point chosen on real music for that much audio.
    offset_windows: np.ndarray
    offsets: np.ndarray
    grids_hz: np.ndarray
    local_mean_bins: int = LOCAL_MEAN_BINS

    def logit(self, residual: np.ndarray, comb_z: np.ndarray, windows: float) -> float:
        """The calibrated logit of ``features(residual, comb_z)`` after ``windows`` windows of audio."""
        offset = np.interp(np.log2(max(windows, 1.0)), np.log2(self.offset_windows), self.offsets)
        residual_weights, comb_weights = self._folded_weights
        return float(residual @ residual_weights + comb_z @ comb_weights + self.intercept - offset)

    @functools.cached_property
    def _folded_weights(self) -> tuple[np.ndarray, np.ndarray]:
        bins = self.coef.shape[0] - self.grids_hz.shape[0]
        residual = local_detail_adjoint(self.coef[:bins].astype(np.float64)) / RESIDUAL_CLIP_DB
        return residual, self.coef[bins:].astype(np.float64) / COMB_Z_SCALE

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez_compressed(
                f,
                version=np.array(self.version),
                coef=self.coef.astype(np.float32),
                intercept=np.array(self.intercept),
                offset_windows=self.offset_windows,
                offsets=self.offsets,
                grids_hz=self.grids_hz,
                local_mean_bins=np.array(self.local_mean_bins),
            )

    @classmethod
    def load(cls, path: Path, comb: CombScorer) -> LinearModel:
        keys = ("version", "coef", "intercept", "offset_windows", "offsets", "grids_hz", "local_mean_bins")
        arrays = load_arrays(path, keys, "local engine model", "scripts/train_local.py")
        model = cls(
            version=str(arrays["version"]),
            coef=arrays["coef"].astype(np.float32),
            intercept=float(arrays["intercept"]),
            offset_windows=arrays["offset_windows"].astype(np.float64),
            offsets=arrays["offsets"].astype(np.float64),
            grids_hz=arrays["grids_hz"].astype(np.float64),
            local_mean_bins=int(arrays["local_mean_bins"]),
        )
        model._check(path, comb)
        return model

    def _check(self, path: Path, comb: CombScorer) -> None:
        expected = len(band_hz()) + len(comb.bank)
        problems = []
        if self.coef.shape != (expected,):
            problems.append(f"{self.coef.shape[0] if self.coef.ndim == 1 else self.coef.shape} weights, expected {expected}")
        if not np.array_equal(self.grids_hz, grid_signature(comb)):
            problems.append("trained with a different comb bank")
        if self.local_mean_bins != LOCAL_MEAN_BINS:
            problems.append(f"residual local mean over {self.local_mean_bins} bins, expected {LOCAL_MEAN_BINS}")
        if self.offsets.shape != self.offset_windows.shape or self.offsets.size == 0:
            problems.append("offset table malformed")
        finite = [self.coef, self.offsets, np.array([self.intercept])]
        if not all(np.isfinite(a).all() for a in finite):
            problems.append("non-finite values")
        if problems:
            raise ModelError(f"local engine model {path} does not fit this code: {'; '.join(problems)}")
