"""Turn a mean log spectrum into an AI score and the evidence behind it.

The score is the larger of two calibrated scores: the learned linear model
(residual + comb z of every grid, operating point per amount of accumulated
audio) and the training-free comb. The evidence is the comb's strongest grid,
which a person can check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...types import SAMPLE_RATE
from .comb import CombResult, CombScorer
from .model import DEFAULT_PATH, LinearModel, features
from .spectrum import HOP, N_FFT, peak_residual

#: From this z a grid is named as positive evidence.
EVIDENCE_Z = 3.0
#: The comb alone decides only beyond what real music reached: on the corpus the
#: 99th percentile of real-music comb z is 6.3 (4 s) to 6.7 (whole file), so its
#: score crosses 0.5 at 7.5. Fusion is the max: a grid this far above chance is a
#: decoder whatever the linear model learned, and the evidence then agrees with the verdict.
COMB_Z_MID = 7.5
COMB_Z_SLOPE = 1.5
#: STFT frames in one 4 s window: the model's calibration table counts windows.
FRAMES_PER_WINDOW = (4 * SAMPLE_RATE - N_FFT) // HOP + 1


@dataclass(frozen=True, slots=True)
class Score:
    ai_score: float
    comb: CombResult
    evidence: tuple[str, ...]


class FingerprintScorer:
    def __init__(self, model_path: Path = DEFAULT_PATH, model: LinearModel | None = None) -> None:
        """Scores with ``model`` when given (evaluation of held-out folds), else the file at ``model_path``."""
        self.comb = CombScorer()
        self.model = model if model is not None else LinearModel.load(model_path, self.comb)

    def score(self, mean_db: np.ndarray, frames: int) -> Score:
        """Score a mean dB spectrum that averaged ``frames`` STFT frames."""
        residual = peak_residual(mean_db)
        comb = self.comb.score(residual)
        logit = self.model.logit(features(residual, comb.z), frames / FRAMES_PER_WINDOW)
        comb_logit = COMB_Z_SLOPE * (comb.best_z - COMB_Z_MID)
        ai_score = float(1.0 / (1.0 + np.exp(-np.clip(max(logit, comb_logit), -50.0, 50.0))))
        return Score(ai_score=ai_score, comb=comb, evidence=(self._describe(comb),))

    def _describe(self, comb: CombResult) -> str:
        grid = self.comb.bank[comb.best]
        where = f"every {grid.spacing_hz:.1f} Hz ({grid.label})"
        if comb.best_z >= EVIDENCE_Z:
            return f"periodic spectral peaks {where}, {comb.best_z:.1f}σ above chance"
        return f"no periodic spectral peaks on any decoder grid (strongest {where}, {comb.best_z:.1f}σ)"
