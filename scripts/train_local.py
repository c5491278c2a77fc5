"""Train the local engine's linear fingerprint model on the corpus (+ synthetic data).

Usage: python scripts/train_local.py [--rebuild-dataset]
Writes streamer/engines/local/model/fingerprint.npz. Deterministic (fixed seeds).
Calibration: for each amount of accumulated audio (1, 2, 4, 8 windows, whole
file) the score crosses 0.5 at the 99th percentile of out-of-fold real-music
logits plus a margin, because the corpus's real music is narrow (lesson 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # leave the other core to the team
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from streamer.engines.local.comb import CombScorer  # noqa: E402
from streamer.engines.local.model import DEFAULT_PATH, LinearModel, features, grid_signature  # noqa: E402
from streamer.engines.local.spectrum import peak_residual  # noqa: E402
from train_dataset import Item, dataset  # noqa: E402

VERSION = "local-fp-2"
ACCUMULATIONS = (1, 2, 4, 8)  # windows; plus the whole file
WHOLE = 0  # marker for "every window of the file"
FOLDS = 5
C = 0.5
REAL_QUANTILE = 0.99
MARGIN = 1.0  # logits above the quantile: headroom for commercial masters the corpus lacks


@dataclass
class Sample:
    x: np.ndarray
    comb_z: float  # strongest comb z: the training-free baseline
    item: int
    windows: int  # accumulated windows (WHOLE = all)


def accumulated(item: Item, n: int) -> list[tuple[np.ndarray, int]]:
    """Mean dB spectra over consecutive blocks of n windows (n = WHOLE: the whole file)."""
    if n == WHOLE:
        return [(item.spectra.sum(axis=0) / item.frames.sum(), WHOLE)]
    blocks = len(item.frames) // n
    return [
        (item.spectra[b * n : (b + 1) * n].sum(axis=0) / item.frames[b * n : (b + 1) * n].sum(), n) for b in range(blocks)
    ]


def make_samples(items: list[Item], comb: CombScorer) -> list[Sample]:
    samples = []
    for k, item in enumerate(items):
        for n in (*ACCUMULATIONS, WHOLE):
            for mean_db, windows in accumulated(item, n):
                result = comb.score(residual := peak_residual(mean_db.astype(np.float64)))
                samples.append(Sample(features(residual, result.z), result.best_z, k, windows))
    return samples


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> LogisticRegression:
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=0)
    return model.fit(x, y, sample_weight=weight)


def training_view(items: list[Item], samples: list[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Single windows and 4-window blocks, each file weighted equally whatever its length."""
    chosen = [s for s in samples if s.windows in (1, 4)]
    per_file: dict[tuple[int, int], int] = {}
    for s in chosen:
        per_file[(s.item, s.windows)] = per_file.get((s.item, s.windows), 0) + 1
    x = np.stack([s.x for s in chosen])
    y = np.array([items[s.item].label == "ai" for s in chosen])
    weight = np.array([1.0 / per_file[(s.item, s.windows)] for s in chosen])
    return x, y, weight


def out_of_fold_logits(items: list[Item], samples: list[Sample]) -> np.ndarray:
    """Logit of every sample from a model that never saw its track (GroupKFold by track)."""
    groups = np.array([item.group for item in items])
    logits = np.zeros(len(samples))
    owner = np.array([s.item for s in samples])
    for train_items, _ in GroupKFold(n_splits=FOLDS).split(groups, groups=groups):
        train_set = set(train_items.tolist())
        inside = np.array([s.item in train_set for s in samples])
        x, y, w = training_view(items, [s for s, keep in zip(samples, inside) if keep])
        model = fit(x, y, w)
        outside = ~inside
        logits[outside] = model.decision_function(np.stack([s.x for s, o in zip(samples, outside) if o]))
        print(f"fold done: {len(train_set)} train files, {outside.sum()} held-out samples", file=sys.stderr)
    assert set(owner.tolist()) == set(range(len(items)))
    return logits


def is_real_music(item: Item) -> bool:
    return item.label == "real"


def calibration(items: list[Item], samples: list[Sample], logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logit offset per accumulation: the 99th percentile of real-music logits + MARGIN."""
    windows, offsets = [], []
    longest = max(len(item.frames) for item in items)
    for n in ACCUMULATIONS + (WHOLE,):
        real = [lg for s, lg in zip(samples, logits) if s.windows == n and is_real_music(items[s.item])]
        windows.append(float(longest if n == WHOLE else n))
        offsets.append(float(np.quantile(real, REAL_QUANTILE)) + MARGIN)
    # Whole files are at least as long as the 8-window blocks: keep the table monotone in windows.
    order = np.argsort(windows)
    return np.array(windows)[order], np.array(offsets)[order]


def train(rebuild: bool = False) -> tuple[list[Item], list[Sample], np.ndarray, LinearModel]:
    items = dataset(rebuild)
    comb = CombScorer()
    samples = make_samples(items, comb)
    logits = out_of_fold_logits(items, samples)
    offset_windows, offsets = calibration(items, samples, logits)
    final = fit(*training_view(items, samples))
    model = LinearModel(
        version=VERSION,
        coef=final.coef_[0].astype(np.float32),
        intercept=float(final.intercept_[0]),
        offset_windows=offset_windows,
        offsets=offsets,
        grids_hz=grid_signature(comb),
    )
    return items, samples, logits, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild-dataset", action="store_true", help="decode the corpus again instead of using the /tmp cache")
    args = parser.parse_args()
    *_, model = train(args.rebuild_dataset)
    model.save(DEFAULT_PATH)
    print(f"wrote {DEFAULT_PATH} ({DEFAULT_PATH.stat().st_size / 1e3:.0f} kB), offsets {dict(zip(model.offset_windows, model.offsets.round(2)))}")


if __name__ == "__main__":
    main()
