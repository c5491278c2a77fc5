"""Turn accumulated evidence into an AI score and the reasons behind it.

Two evidence families, fused by the larger calibrated logit (each is 0 at its own
operating point, so the max keeps both thresholds valid):

* the decoder-artefact fingerprint of the mean log spectrum — the learned linear
  model (residual + comb z of every grid, operating point per amount of accumulated
  audio) and the training-free comb;
* the envelope jitter (envelope_jitter.py), which sees spectrogram inversion.

The evidence names the comb's strongest grid, which a person can check, and the
jitter when it stands out; the family that decided comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...types import SAMPLE_RATE
from .comb import CombResult, CombScorer
from .envelope_jitter import EVIDENCE_Z as JITTER_EVIDENCE_Z
from .envelope_jitter import JITTER_PATH, JitterModel, JitterScore
from .model import DEFAULT_PATH, LinearModel
from .spectrum import HOP, N_FFT, peak_residual

#: From this z a grid is named as positive evidence.
EVIDENCE_Z = 3.0
#: The comb alone decides only beyond what real music reached: on the corpus the
#: 99th percentile of real-music comb z is 6.3 (4 s) to 6.7 (whole file), so its
#: score crosses 0.5 at 7.5. Fusion is the max: a grid this far above chance is a
#: decoder whatever the linear model learned, and the evidence then agrees with the verdict.
COMB_Z_MID = 7.5
COMB_Z_SLOPE = 1.5
#: STFT frames in one 4 s window: both calibration tables count 4 s windows of audio.
FRAMES_PER_WINDOW = (4 * SAMPLE_RATE - N_FFT) // HOP + 1


@dataclass(frozen=True, slots=True)
class Score:
    ai_score: float
    comb: CombResult
    jitter: JitterScore | None  # None when no window had a jitter floor
    evidence: tuple[str, ...]


class EvidenceScorer:
    def __init__(
        self,
        model_path: Path = DEFAULT_PATH,
        model: LinearModel | None = None,
        jitter_path: Path = JITTER_PATH,
        jitter: JitterModel | None = None,
    ) -> None:
        """Scores with ``model`` / ``jitter`` when given (evaluation of held-out folds), else the files.
        Raises ModelError on a missing or bad model file."""
        self.comb = CombScorer()
        self.model = model if model is not None else LinearModel.load(model_path, self.comb)
        self.jitter = jitter if jitter is not None else JitterModel.load(jitter_path)

    def score(self, mean_db: np.ndarray, frames: int, mean_floor: float | None) -> Score:
        """Score a mean dB spectrum that averaged ``frames`` STFT frames, and the mean jitter floor
        of the same windows (None: no window had one)."""
        windows = frames / FRAMES_PER_WINDOW
        residual = peak_residual(mean_db)
        comb = self.comb.score(residual)
        linear_logit = self.model.logit(residual, comb.z, windows)
        fingerprint_logit = max(linear_logit, COMB_Z_SLOPE * (comb.best_z - COMB_Z_MID))
        jitter = self.jitter.score(mean_floor, windows) if mean_floor is not None else None
        logit = fingerprint_logit if jitter is None else max(fingerprint_logit, jitter.logit)
        evidence = [self._describe(comb)]
        if jitter is not None and jitter.z >= JITTER_EVIDENCE_Z:
            evidence.insert(0 if jitter.logit > fingerprint_logit else 1, jitter.evidence())
        ai_score = float(1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0))))
        return Score(ai_score=ai_score, comb=comb, jitter=jitter, evidence=tuple(evidence))

    def _describe(self, comb: CombResult) -> str:
        grid = self.comb.bank[comb.best]
        where = f"every {grid.spacing_hz:.1f} Hz ({grid.label})"
        if comb.best_z >= EVIDENCE_Z:
            return f"periodic spectral peaks {where}, {comb.best_z:.1f}σ above chance"
        return f"no periodic spectral peaks on any decoder grid (strongest {where}, {comb.best_z:.1f}σ)"
