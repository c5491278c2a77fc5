"""Second evidence family: the jitter floor of the short-time spectral envelope.

Generators that make audio by inverting a magnitude spectrogram — Griffin-Lim over a
mel spectrogram (riffusion, mel-spectrogram decoders) — estimate a phase that does
not belong to the magnitudes. Re-analysed with 23 ms frames, such audio's spectral
envelope flickers from one frame to the next even while notes sustain; a recording's
envelope is steady between frames except at onsets. Per window we take the mean
|Δ| of mel cepstra 3..13 between consecutive frames (the cepstra of content.py's
1024-sample STFT, which routing computes anyway: ``content.analyse``) and keep a low quantile over the
window: after inversion even the quietest frame pairs flicker, while percussive real
music flickers only on its hits (the plain mean ranked dubstep and beatbox with
Griffin-Lim).

The score is calibrated on real music only — no AI audio is used — so it cannot
have learnt a generator or a source. It is blind to every other generator family
(smooth latent decoders even score below real music), so it only ever adds
evidence: the engine fuses it by taking the larger logit (scoring.py), and its
threshold sits well above real music. Measured on the corpus (docs/accuracy.md):
Griffin-Lim leave-one-generator-out AUC 0.79 → 0.97, no added false positive in
cross-validation, and unmoved by MP3/AAC/Opus, gain, pitch and speed changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .content import CEPSTRA
from .model import ModelError, load_arrays

JITTER_PATH = Path(__file__).with_name("model") / "envelope_jitter.npz"
#: Columns of content.py's cepstra (coefficient 1 first) that carry envelope detail:
#: coefficients 3..13. 1–2 follow the broad tilt, which real dynamics move too.
DETAIL_CEPSTRA = slice(2, CEPSTRA)
#: The floor: the 10th percentile over the window's frame pairs (the 25th and the
#: median separate less; see the module docstring for why not the mean).
FLOOR_QUANTILE = 0.10
#: From this many σ above real music the evidence names the family.
EVIDENCE_Z = 3.0


def jitter_floor(cepstra: np.ndarray) -> float:
    """The window's jitter floor: FLOOR_QUANTILE over consecutive frame pairs of mean |Δ cepstrum 3..13|."""
    if cepstra.ndim != 2 or cepstra.shape[0] < 2 or cepstra.shape[1] < DETAIL_CEPSTRA.stop:
        raise ValueError(f"need (frames ≥ 2, ≥ {DETAIL_CEPSTRA.stop}) cepstra, got shape {cepstra.shape}")
    step = np.abs(np.diff(cepstra[:, DETAIL_CEPSTRA], axis=0)).mean(axis=1)
    return float(np.quantile(step, FLOOR_QUANTILE))


@dataclass(frozen=True, slots=True)
class JitterScore:
    logit: float  # 0 at the operating threshold; fused with the fingerprint by max
    z: float  # σ above real music's median for this much audio
    floor: float  # the mean jitter floor that was scored

    def evidence(self) -> str:
        if self.z >= EVIDENCE_Z:
            return (
                f"spectral envelope flickers between 23 ms frames like spectrogram-inversion (Griffin-Lim) audio, "
                f"{self.z:.1f}σ above real music"
            )
        return f"no spectrogram-inversion flicker ({self.z:.1f}σ from real music)"


@dataclass(frozen=True)
class JitterModel:
    """Real music's distribution of the mean jitter floor, per amount of accumulated audio.

    Row i describes means over ``windows[i]`` 4 s windows (the last row: the longest
    training file); values in between are interpolated in log2(windows), like the
    fingerprint's calibration table. The logit is ``slope`` per σ above the threshold.
    """

    version: str
    windows: np.ndarray
    centres: np.ndarray  # median over real music
    scales: np.ndarray  # robust σ (interquartile range / 1.349)
    thresholds: np.ndarray  # floor where the logit crosses 0
    slope: float

    def score(self, mean_floor: float, windows: float) -> JitterScore:
        """Score the mean jitter floor of ``windows`` music windows."""
        at = np.log2(max(windows, 1.0))
        grid = np.log2(self.windows)
        centre, scale, threshold = (float(np.interp(at, grid, row)) for row in (self.centres, self.scales, self.thresholds))
        return JitterScore(
            logit=self.slope * (mean_floor - threshold) / scale,
            z=(mean_floor - centre) / scale,
            floor=mean_floor,
        )

    def save(self, path: Path = JITTER_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez_compressed(
                f,
                version=np.array(self.version),
                windows=self.windows,
                centres=self.centres,
                scales=self.scales,
                thresholds=self.thresholds,
                slope=np.array(self.slope),
            )

    @classmethod
    def load(cls, path: Path = JITTER_PATH) -> JitterModel:
        keys = ("version", "windows", "centres", "scales", "thresholds", "slope")
        arrays = load_arrays(path, keys, "envelope-jitter model", "scripts/train_envelope_jitter.py")
        model = cls(
            version=str(arrays["version"]),
            windows=arrays["windows"].astype(np.float64),
            centres=arrays["centres"].astype(np.float64),
            scales=arrays["scales"].astype(np.float64),
            thresholds=arrays["thresholds"].astype(np.float64),
            slope=float(arrays["slope"]),
        )
        rows = (model.windows, model.centres, model.scales, model.thresholds)
        n = model.windows.shape
        well_formed = (
            len(n) == 1
            and n[0] > 0
            and all(row.shape == n for row in rows)
            and all(np.isfinite(row).all() for row in rows)
            and np.isfinite(model.slope)
            and model.slope > 0
            and (model.scales > 0).all()
            and (np.diff(model.windows) > 0).all()
            and model.windows[0] >= 1
        )
        if not well_formed:
            raise ModelError(f"envelope-jitter model {path} does not fit this code: expected one finite row per accumulation")
        return model
