"""The learned linear model on the fingerprint, stored as a pickle-free .npz.

Features are the peak residual (1–16 kHz, one value per bin) and the comb z of
every grid of the bank, so the learned weights can pick up grids the bank lacks
while the comb keeps its training-free evidence. ``scripts/train_local.py``
writes the file; nothing here imports scikit-learn.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .comb import CombScorer
from .spectrum import RESIDUAL_CLIP_DB, band_hz

DEFAULT_PATH = Path(__file__).with_name("model") / "fingerprint.npz"
#: Comb z is divided by this so it lives on the residual's 0–1 scale.
COMB_Z_SCALE = 10.0


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


def features(residual: np.ndarray, comb_z: np.ndarray) -> np.ndarray:
    """One feature vector: residual in [0, 1] then comb z scaled to about [-0.5, 3]."""
    return np.concatenate([residual / RESIDUAL_CLIP_DB, comb_z / COMB_Z_SCALE]).astype(np.float32)


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

    def logit(self, x: np.ndarray, windows: float) -> float:
        offset = np.interp(np.log2(max(windows, 1.0)), np.log2(self.offset_windows), self.offsets)
        return float(x @ self.coef + self.intercept - offset)

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
            )

    @classmethod
    def load(cls, path: Path, comb: CombScorer) -> LinearModel:
        keys = ("version", "coef", "intercept", "offset_windows", "offsets", "grids_hz")
        arrays = load_arrays(path, keys, "local engine model", "scripts/train_local.py")
        model = cls(
            version=str(arrays["version"]),
            coef=arrays["coef"].astype(np.float32),
            intercept=float(arrays["intercept"]),
            offset_windows=arrays["offset_windows"].astype(np.float64),
            offsets=arrays["offsets"].astype(np.float64),
            grids_hz=arrays["grids_hz"].astype(np.float64),
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
        if self.offsets.shape != self.offset_windows.shape or self.offsets.size == 0:
            problems.append("offset table malformed")
        finite = [self.coef, self.offsets, np.array([self.intercept])]
        if not all(np.isfinite(a).all() for a in finite):
            problems.append("non-finite values")
        if problems:
            raise ModelError(f"local engine model {path} does not fit this code: {'; '.join(problems)}")
