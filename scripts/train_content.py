"""Train the content heads (singing, speech) of the local engine on the corpus clips.

Usage: python scripts/train_content.py
Writes streamer/engines/local/model/content.npz. Deterministic. Needs the clip
cache of scripts/evaluate_audio.py (built on first use). Labels come from
the manifest: singing = music files with has_vocals=yes vs has_vocals=no (each
4 s window inherits its file's label, so the head learns "this song has a voice",
a noisy target); speech = the speech files vs all music. Prints the grouped
out-of-fold window AUC of each head.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from evaluate_audio import Clip, load_clips

from streamer.engines.local.content import CONTENT_PATH, ContentModel, content_features
from streamer.types import SAMPLE_RATE

VERSION = "local-content-2"
WINDOW = 4 * SAMPLE_RATE
C = 0.3
FOLDS = 5
#: Speech windows leave the AI verdict: at most ~1 % of music windows may be called speech.
SPEECH_MUSIC_QUANTILE = 0.99


def window_features(clips: list[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of every 4 s window, and the clip index of each row."""
    rows, owner = [], []
    for k, clip in enumerate(clips):
        for start in range(0, len(clip.mono) - WINDOW + 1, WINDOW):
            chunk = clip.mono[start : start + WINDOW]
            if np.sqrt(np.mean(chunk**2)) < 10 ** (-55 / 20):  # silence: routed by level, not by these heads
                continue
            rows.append(content_features(chunk))
            owner.append(k)
    return np.array(rows), np.array(owner)


def equal_error(out_of_fold: np.ndarray, y: np.ndarray) -> float:
    """The logit where the miss rate equals the false-alarm rate."""
    candidates = np.sort(out_of_fold)
    gap = [abs(np.mean(out_of_fold[y] <= t) - np.mean(out_of_fold[~y] > t)) for t in candidates]
    return float(candidates[int(np.argmin(gap))])


def rare_on_negatives(quantile: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """The logit that only 1 − ``quantile`` of the negatives exceed."""
    return lambda out_of_fold, y: float(np.quantile(out_of_fold[~y], quantile))


@dataclass(frozen=True)
class HeadReport:
    """Grouped out-of-fold quality of one head at its operating point (p = 0.5), per 4 s window."""

    name: str
    positives: int
    negatives: int
    auc: float
    recall: float
    false_alarms: float

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.positives} positive / {self.negatives} negative windows, out-of-fold AUC {self.auc:.3f}, "
            f"at p = 0.5: recall {self.recall:.1%}, false alarms {self.false_alarms:.1%}"
        )


def head(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, name: str, operating_point: Callable[[np.ndarray, np.ndarray], float]
) -> tuple[LogisticRegression, HeadReport]:
    """Fit one head; its intercept is shifted so p = 0.5 at ``operating_point`` of the out-of-fold logits."""
    out_of_fold = np.zeros(len(y))
    for train_rows, test_rows in GroupKFold(n_splits=FOLDS).split(x, groups=groups):
        out_of_fold[test_rows] = _fit(x[train_rows], y[train_rows]).decision_function(x[test_rows])
    shift = operating_point(out_of_fold, y)
    model = _fit(x, y)
    model.intercept_ -= shift
    out_of_fold -= shift
    report = HeadReport(
        name,
        int(y.sum()),
        int((~y).sum()),
        float(roc_auc_score(y, out_of_fold)),
        float(np.mean(out_of_fold[y] > 0)),
        float(np.mean(out_of_fold[~y] > 0)),
    )
    return model, report


def _fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=0).fit(x, y)


def train() -> tuple[ContentModel, list[HeadReport]]:
    clips = load_clips()
    features, owner = window_features(clips)
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    x = (features - mean) / scale
    label = np.array([clips[k].label for k in owner])
    vocals = np.array([clips[k].has_vocals for k in owner])
    groups = np.array([clips[k].name for k in owner])

    music_known = np.isin(label, ("ai", "real")) & np.isin(vocals, ("yes", "no"))
    # Singing only picks the Modulate lane, so misses and false alarms cost alike.
    vocal, vocal_report = head(
        x[music_known], vocals[music_known] == "yes", groups[music_known], "singing (has_vocals yes vs no)", equal_error
    )
    speech, speech_report = head(x, label == "speech", groups, "speech (speech files vs music)", rare_on_negatives(SPEECH_MUSIC_QUANTILE))
    model = ContentModel(
        version=VERSION,
        mean=mean,
        scale=scale,
        coef=np.stack([vocal.coef_[0], speech.coef_[0]]),
        intercept=np.array([vocal.intercept_[0], speech.intercept_[0]]),
    )
    return model, [vocal_report, speech_report]


if __name__ == "__main__":
    model, reports = train()
    print(*reports, sep="\n")
    model.save(CONTENT_PATH)
    print(f"wrote {CONTENT_PATH} ({CONTENT_PATH.stat().st_size} bytes)")
