"""Measure the local engine on the shared corpus and write docs/accuracy.md.

Usage: scripts/evaluate [--rebuild-cache]   (about 25 min the first time, ~8 min cached)

Every score is the engine's own (EvidenceScorer: calibrated linear model, comb and
envelope jitter fused by the largest logit) from models that never saw the track:
grouped 5-fold CV by track (a reconstruction shares its original's group), and
leave-one-generator-out where neither the generator nor the test tracks are in
training. The envelope-jitter calibration is refitted on each training side's real
music the way scripts/train_envelope_jitter.py fits the shipped one. Audio caches
live in /tmp (see train_dataset.py and evaluate_audio.py).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # leave the other core to the team
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench_engine import stage_costs
from evaluate_audio import Conditions, load_clips, robustness_spectra
from train_content import HeadReport
from train_content import train as train_content
from train_dataset import AUGMENTED, DEBIAN_MUSIC, RENDERED_SETS, load
from train_envelope_jitter import VERSION as JITTER_VERSION
from train_envelope_jitter import calibrate
from train_local import (
    ACCUMULATIONS,
    WHOLE,
    Training,
    accumulated,
    fit,
    train,
    training_view,
)

from streamer.config import DecisionSettings, WindowSettings
from streamer.engines.local.envelope_jitter import JitterModel
from streamer.engines.local.scoring import EvidenceScorer
from streamer.sinks.events import SegmentTracker
from streamer.sinks.settings import EventSettings
from streamer.types import Decision, WindowVerdict

REPORT = ROOT / "docs" / "accuracy.md"
DECISION = DecisionSettings()
WINDOW_MS = round(1000 * WindowSettings().length_s)


#: Scored.item of a piece from OUTSIDE_SETS (not an index into the corpus items).
OUTSIDE_ITEM = -1


def is_reconstruction(generator: str) -> bool:
    return generator.endswith("-reconstruction")


@dataclass(frozen=True)
class Scored:
    """One accumulated spectrum of one file, scored by a model that never saw the file."""

    item: int  # OUTSIDE_ITEM for music outside the corpus
    windows: int  # WHOLE = the whole file
    score: float
    fingerprint_score: float  # the same evidence scored without the envelope-jitter family
    comb_z: float
    jitter_z: float


@dataclass(frozen=True)
class Metrics:
    n_ai: int
    n_real: int
    auc: float
    tpr_at_1pct: float
    fpr_at_threshold: float
    tpr_at_threshold: float
    fingerprint_auc: float
    comb_auc: float
    jitter_auc: float

    def cells(self) -> list[str]:
        return [
            str(self.n_ai),
            str(self.n_real),
            f"{self.auc:.3f}",
            f"{self.tpr_at_1pct:.1%}",
            f"{self.fpr_at_threshold:.1%}",
            f"{self.tpr_at_threshold:.1%}",
            f"{self.fingerprint_auc:.3f}",
            f"{self.comb_auc:.3f}",
            f"{self.jitter_auc:.3f}",
        ]


HEADER = ["AI files", "real files", "AUC", "TPR @ 1 % FPR", "FPR @ threshold", "TPR @ threshold", "fingerprint-only AUC", "comb-only AUC", "jitter-only AUC"]


def metrics(ai: list[Scored], real: list[Scored], threshold: float) -> Metrics:
    y = np.r_[np.ones(len(ai)), np.zeros(len(real))]
    score = np.array([s.score for s in ai + real])
    fingerprint = np.array([s.fingerprint_score for s in ai + real])
    comb = np.array([s.comb_z for s in ai + real])
    jitter = np.array([s.jitter_z for s in ai + real])
    fpr, tpr, _ = roc_curve(y, score)
    return Metrics(
        n_ai=len(ai),
        n_real=len(real),
        auc=float(roc_auc_score(y, score)),
        tpr_at_1pct=float(tpr[fpr <= 0.01].max()),
        fpr_at_threshold=float(np.mean(score[y == 0] >= threshold)),
        tpr_at_threshold=float(np.mean(score[y == 1] >= threshold)),
        fingerprint_auc=float(roc_auc_score(y, fingerprint)),
        comb_auc=float(roc_auc_score(y, comb)),
        jitter_auc=float(roc_auc_score(y, jitter)),
    )


def table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def scored_as(item: int, windows: int, scorer: EvidenceScorer, mean_db: np.ndarray, frames: int, mean_floor: float) -> Scored:
    result = scorer.score(mean_db, frames, mean_floor)
    assert result.jitter is not None  # every evaluated window has a jitter floor
    fingerprint = scorer.score(mean_db, frames, mean_floor=None).ai_score
    return Scored(item, windows, result.ai_score, fingerprint, result.comb.best_z, result.jitter.z)


class Evaluation:
    def __init__(self, training: Training) -> None:
        self.t = training
        self.items = training.items
        self.scorer_of: dict[int, EvidenceScorer] = {}
        for fold in training.folds:
            trained_on = set(range(len(self.items))) - fold.held_out
            scorer = EvidenceScorer(model=training.held_out_model(fold.model), jitter=self.jitter_calibration(trained_on))
            self.scorer_of.update(dict.fromkeys(fold.held_out, scorer))
        self.cv = self._score_all(self.scorer_of.__getitem__, range(len(self.items)), (*ACCUMULATIONS, WHOLE))

    def jitter_calibration(self, items: Iterable[int]) -> JitterModel:
        """The envelope-jitter calibration fitted on the real music (and band-limited copies) among ``items``."""
        return calibrate([self.items[k].floors for k in items if self.items[k].label == "real"])

    def _score_all(self, scorer_of: Callable[[int], EvidenceScorer], items: Iterable[int], accumulations: Iterable[int]) -> list[Scored]:
        scored = []
        for k in items:
            for n in accumulations:
                for mean_db, frames, mean_floor in accumulated(self.items[k], n):
                    scored.append(scored_as(k, n, scorer_of(k), mean_db, frames, mean_floor))
        return scored

    def select(self, scored: list[Scored], windows: int, keep: Callable[[int], bool]) -> list[Scored]:
        return [s for s in scored if s.windows == windows and keep(s.item)]

    def label(self, k: int) -> str:
        return self.items[k].label

    def corpus_ai(self, k: int) -> bool:
        return self.label(k) == "ai" and self.items[k].generator not in AUGMENTED

    def fully_generated(self, k: int) -> bool:
        return self.corpus_ai(k) and not is_reconstruction(self.items[k].generator)

    def corpus_real(self, k: int) -> bool:
        return self.label(k) == "real" and self.items[k].generator not in AUGMENTED

    # --- whole file -------------------------------------------------------------------------
    def whole_file_rows(self) -> list[list[str]]:
        g = lambda k: self.items[k].generator
        vocals = lambda k: self.items[k].has_vocals
        groups: list[tuple[str, Callable[[int], bool], Callable[[int], bool]]] = [
            ("all AI vs real", self.corpus_ai, self.corpus_real),
            ("fully generated vs real", self.fully_generated, self.corpus_real),
            ("codec reconstructions vs real", lambda k: self.corpus_ai(k) and is_reconstruction(g(k)), self.corpus_real),
            ("AI with vocals vs real with vocals", lambda k: self.corpus_ai(k) and vocals(k) == "yes", lambda k: self.corpus_real(k) and vocals(k) == "yes"),
            ("AI instrumental vs real instrumental", lambda k: self.corpus_ai(k) and vocals(k) == "no", lambda k: self.corpus_real(k) and vocals(k) == "no"),
            ("synthetic decoders vs band-limited real (training augmentation)", lambda k: g(k) == "synthetic-decoder", lambda k: g(k) == "bandlimited-real"),
        ]
        rows = [[name, *self._metrics(self.cv, WHOLE, ai, real, DECISION.clip_ai_threshold).cells()] for name, ai, real in groups]
        wider = self.select(self.cv, WHOLE, self.corpus_real) + self.outside[DEBIAN_SOUNDTRACKS][0]
        m = metrics(self.select(self.cv, WHOLE, self.fully_generated), wider, DECISION.clip_ai_threshold)
        rows.insert(2, ["fully generated vs real and Debian soundtracks", *m.cells()])
        for generator in self.generators():
            m = self._metrics(self.cv, WHOLE, lambda k, gen=generator: self.corpus_ai(k) and g(k) == gen, self.corpus_real, DECISION.clip_ai_threshold)
            rows.append([f"{generator} vs real", *m.cells()])
        return rows

    def generators(self) -> list[str]:
        return sorted({i.generator for i in self.items if i.label == "ai" and i.generator not in AUGMENTED})

    def _metrics(self, scored: list[Scored], windows: int, ai: Callable[[int], bool], real: Callable[[int], bool], threshold: float) -> Metrics:
        return metrics(self.select(scored, windows, ai), self.select(scored, windows, real), threshold)

    # --- windows ----------------------------------------------------------------------------
    def window_rows(self) -> list[list[str]]:
        rows = []
        for n in ACCUMULATIONS:
            for name, ai in (("fully generated", self.fully_generated), ("all AI", self.corpus_ai)):
                m = self._metrics(self.cv, n, ai, self.corpus_real, DECISION.window_ai_threshold)
                rows.append([f"{n} × 4 s ({4 * n} s)", name, *m.cells()])
        return rows

    # --- leave one generator out --------------------------------------------------------------
    def leave_one_generator_out_rows(self) -> list[list[str]]:
        """Train without the generator, its tracks and a fixed grouped half of the real music; test on those."""
        real = [k for k in range(len(self.items)) if self.corpus_real(k)]
        _, half = next(GroupKFold(n_splits=2).split(real, groups=[self.items[k].group for k in real]))
        held_real = [real[i] for i in half]
        rows = []
        for generator in self.generators():
            held_ai = [k for k in range(len(self.items)) if self.items[k].generator == generator]
            test_groups = {self.items[k].group for k in held_ai + held_real}
            train_samples = [s for s in self.t.samples if self.items[s.item].generator != generator and self.items[s.item].group not in test_groups]
            scorer = EvidenceScorer(
                model=self.t.held_out_model(fit(*training_view(self.items, train_samples))),
                jitter=self.jitter_calibration({s.item for s in train_samples}),
            )
            m = metrics(*(self._score_all(lambda _, s=scorer: s, held, (WHOLE,)) for held in (held_ai, held_real)), DECISION.clip_ai_threshold)
            rows.append([generator, *m.cells()])
            print(f"leave-one-generator-out: {generator} AUC {m.auc:.3f}", file=sys.stderr)
        return rows

    # --- robustness -------------------------------------------------------------------------
    def robustness_rows(self, conditions: Conditions) -> list[list[str]]:
        index = {item.name: k for k, item in enumerate(self.items) if item.generator not in AUGMENTED}
        baseline: Metrics | None = None
        rows = []
        for c, name in enumerate(conditions.names):
            scored = []
            for j, clip_name in enumerate(conditions.clip_names):
                k = index.get(clip_name)
                if k is None or conditions.frames[c, j] == 0:
                    continue
                frames = int(conditions.frames[c, j])
                scored.append(scored_as(k, WHOLE, self.scorer_of[k], conditions.sums[c, j] / frames, frames, float(conditions.floors[c, j])))
            fully = [s for s in scored if self.fully_generated(s.item)]
            m = metrics(fully, [s for s in scored if self.corpus_real(s.item)], DECISION.clip_ai_threshold)
            baseline = baseline or m
            rows.append([name, *m.cells()[2:6], f"{m.auc - baseline.auc:+.3f}", f"{m.fingerprint_auc:.3f}", f"{m.jitter_auc:.3f}"])
        return rows

    # --- real music outside the corpus ------------------------------------------------------
    @functools.cached_property
    def outside(self) -> dict[str, tuple[list[Scored], list[np.ndarray]]]:
        """Per set of OUTSIDE_SETS: every whole piece scored, and per piece the ai_score of its 4 s
        windows in order, scored like music the engine meets in use: by the model trained on the
        whole corpus (it never saw these)."""
        scorer = EvidenceScorer(model=self.t.model, jitter=self.jitter_calibration(range(len(self.items))))
        scores = {}
        for name, cache in OUTSIDE_SETS.items():
            pieces = load(cache)
            whole = [scored_as(OUTSIDE_ITEM, WHOLE, scorer, *accumulated(piece, WHOLE)[0]) for piece in pieces]
            windows = [np.array([scorer.score(*block).ai_score for block in accumulated(piece, 1)]) for piece in pieces]
            scores[name] = whole, windows
        return scores

    def outside_rows(self) -> list[list[str]]:
        return [[name, *_false_positive_cells(np.array([s.score for s in whole]), windows)] for name, (whole, windows) in self.outside.items()]

    # --- operating points -------------------------------------------------------------------
    def operating_point_rows(self) -> list[list[str]]:
        """What each clip threshold catches (out-of-fold corpus files) and what it costs on real music."""
        whole = lambda keep: np.array([s.score for s in self.select(self.cv, WHOLE, keep)])
        fully = whole(self.fully_generated)
        every_ai, real = whole(self.corpus_ai), whole(self.corpus_real)
        rows = []
        for threshold in OPERATING_POINTS:
            outside = [f"{np.mean([s.score >= threshold for s in pieces]):.1%}" for pieces, _ in self.outside.values()]
            caught = [f"{np.mean(scores >= threshold):.1%}" for scores in (fully, every_ai, real)]
            rows.append([f"{threshold:g}", *caught, *outside])
        return rows


#: Clip thresholds for the operating-point table (the default is DecisionSettings.clip_ai_threshold).
OPERATING_POINTS = (0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def _false_positive_cells(whole: np.ndarray, piece_windows: list[np.ndarray]) -> list[str]:
    windows = np.concatenate(piece_windows)
    segments = np.mean([opens_ai_segment(scores) for scores in piece_windows])
    return [
        str(len(whole)),
        str(len(windows)),
        f"{np.mean(whole >= DECISION.clip_ai_threshold):.1%}",
        f"{np.mean(windows >= DECISION.window_ai_threshold):.1%}",
        f"{segments:.1%}",
        f"{np.quantile(whole, 0.5):.3f} / {np.quantile(whole, 0.99):.3f}",
    ]


#: WindowVerdict fields the segment tracker does not read.
_UNREAD_VERDICT_FIELDS = (
    "vocal_percentage", "vocal_ai_percentage", "vocal_ai_confidence", "instrumental_percentage",
    "instrumental_ai_percentage", "instrumental_ai_confidence", "silence_percentage", "speech_percentage",
    "level_dbfs", "running_ai_score", "rolling_ai_score",
)  # fmt: skip


def opens_ai_segment(window_scores: np.ndarray, events: EventSettings = EventSettings()) -> bool:
    """Whether the live service's segment tracker, with its default hysteresis, opens an AI-music
    segment (the MQTT event and the AimdAiMusicOnAir alert) on these consecutive window scores."""
    tracker = SegmentTracker(events)
    for k, score in enumerate(window_scores):
        decision = Decision.AI if score >= DECISION.window_ai_threshold else Decision.HUMAN
        start_ms = k * WINDOW_MS
        tracker.feed(WindowVerdict(start_ms, start_ms + WINDOW_MS, **dict.fromkeys(_UNREAD_VERDICT_FIELDS, 0.0), ai_score=float(score), decision=decision))
        if tracker.active:
            return True
    return False


DEBIAN_SOUNDTRACKS = "Debian soundtracks"
#: Real music the corpus lacks (every flag is a false positive), by the name the report gives it.
OUTSIDE_SETS = {
    "FluidR3 GM rendered pieces": RENDERED_SETS["fluidr3"],
    "TimGM6mb rendered pieces": RENDERED_SETS["timgm"],
    DEBIAN_SOUNDTRACKS: DEBIAN_MUSIC,
}
OUTSIDE_NOTE = (
    "Rendered pieces: human-composed scores from music21's corpus, arranged for random General MIDI instruments (drums under 40 %), "
    "rendered by FluidSynth, mastered (EQ, bus compression, a brick-wall limiter at −14…−8 LUFS) and encoded as "
    "MP3, AAC, Opus or PCM by `scripts/render_midi.py`. Nothing on the way is neural, so every flag is a false "
    "positive. Sampled instruments replay one recording per note, so their partials are as stationary as decoder "
    "peaks: the closest thing to sample-based commercial production the corpus lacks. "
    "`scripts/render_midi.py {fluidr3,timgm} --measure` splits these by codec, loudness, instrument family and drums. "
    "A live source opens an AI-music segment (the MQTT segment event, which the `AimdAiMusicOnAir` alert watches) "
    "only after several AI windows in a row (`events.open_windows`): the segment column is what a station "
    "playing these pieces would see. "
    "Debian soundtracks: every track of 30 s or more in the music folders of 17 Debian game and soundtrack packages "
    "(`scripts/debian_music.py`; orchestral, rock, electronic, chiptune and ambient scores by credited composers, "
    "released as Ogg Vorbis, Opus or MP3 in free games, most of them years before music generators were in use). "
    "`scripts/debian_music.py --measure` splits them by package and codec and names the tracks scored highest."
)

OPERATING_NOTE = (
    "Whole files and pieces at each `clip_ai_threshold` (the `decision:` block of the config; the default is "
    f"{DECISION.clip_ai_threshold}). Corpus files are scored out of fold, music outside the corpus by the model trained on the "
    "whole corpus. A higher threshold trades detections for fewer false positives on sample-based music; a lower "
    "one suits a queue that a person reviews, where a missed file costs more than a second look."
)

ROUTING_NOTE = (
    "Recall = windows of the positive files called positive; false alarms = windows of the negative files called positive, "
    "both at p = 0.5. The singing head is set at equal error (it only picks the Modulate lane; a window is vocal from "
    "`vocal_percentage` ≥ 50 at that point), the speech head so that ~1 % of music windows are called speech "
    "(speech windows leave the AI verdict). The labels are per file (`has_vocals`), so a sung song's instrumental "
    "passages count as misses."
)


def report(ev: Evaluation, conditions: Conditions, content_version: str, content_reports: list[HeadReport]) -> str:
    costs = stage_costs(repeats=30)
    sections = [
        "# Local engine accuracy",
        (
            f"Generated by `scripts/evaluate` on {date.today().isoformat()} for models "
            f"`{ev.t.model.version}` + `{content_version}` + `{JITTER_VERSION}` "
            f"on the shared corpus ({sum(ev.corpus_ai(k) for k in range(len(ev.items)))} AI, "
            f"{sum(ev.corpus_real(k) for k in range(len(ev.items)))} real music files; at most the middle 96 s of each). "
            "Scores are the engine's own (the largest of the calibrated linear model, the comb and the envelope-jitter "
            "family) from models that never saw the track: grouped 5-fold cross-validation by track (a codec "
            "reconstruction is grouped with its original). "
            f"Thresholds: window {DECISION.window_ai_threshold}, clip {DECISION.clip_ai_threshold} (`DecisionSettings`). "
            "The fingerprint's calibration puts 0.5 at the 99th percentile of out-of-fold real-music logits plus a margin of 1 logit, "
            "so FPR at the threshold is measured on the same real files that set it; on music unlike the corpus's (mastered commercial pop) expect more. "
            "The envelope-jitter calibration (real music's 99th percentile + 2 robust σ) is refitted on each training side's "
            "real music and its band-limited copy; unlike the shipped one (`scripts/train_envelope_jitter.py`: three "
            "band-limited copies, speech windows routed out) it sees every audible window, like the fingerprint here. "
            "Fingerprint-only AUC scores the same evidence without the envelope-jitter family (the engine before it); "
            "comb-only and jitter-only AUC rank by each family's z alone."
        ),
        "## Whole file (the clip verdict: accumulated evidence of every window)",
        (
            "The row with Debian soundtracks adds the soundtrack tracks of `scripts/debian_music.py` (see \"Real music outside "
            "the corpus\") to the real side, scored by the model trained on the whole corpus, which never saw them. The "
            "corpus's real music is narrow, so that row is the nearer estimate of how many AI files are caught at 1 % false "
            "positives on real music at large."
        ),
        table(["set", *HEADER], ev.whole_file_rows()),
        "## Windows: one 4 s window and accumulated blocks of 2, 4, 8 windows",
        table(["accumulated", "AI set", *HEADER], ev.window_rows()),
        "## Leave one generator out (whole file)",
        "The generator is absent from training, and so are the test tracks and a fixed grouped half of the real music, on which the false positives are measured.",
        table(["held-out generator", *HEADER], ev.leave_one_generator_out_rows()),
        "## Robustness (middle 24 s of each file, fully generated vs real, same held-out models)",
        table(["condition", "AUC", "TPR @ 1 % FPR", "FPR @ threshold", "TPR @ threshold", "AUC change", "fingerprint-only AUC", "jitter-only AUC"], ev.robustness_rows(conditions)),
        "## Real music outside the corpus: false positives",
        OUTSIDE_NOTE,
        table(["set", "pieces", "windows", "piece FPR @ clip threshold", "window FPR @ window threshold", f"pieces with a live AI segment ({EventSettings().open_windows} AI windows in a row)", "piece score median / 99th pct"], ev.outside_rows()),
        "## Operating points: the clip threshold against false positives",
        OPERATING_NOTE,
        table(["clip threshold", "fully generated caught", "all AI caught", "corpus real music flagged", *(f"{name} flagged" for name in OUTSIDE_SETS)], ev.operating_point_rows()),
        "## Routing: content heads (4 s windows of the middle 24 s, grouped 5-fold by file)",
        ROUTING_NOTE,
        table(["head", "positive windows", "negative windows", "AUC", "recall", "false alarms"], [
            [r.name, str(r.positives), str(r.negatives), f"{r.auc:.3f}", f"{r.recall:.1%}", f"{r.false_alarms:.1%}"]
            for r in content_reports
        ]),
        "## Cost per 4 s window (ms CPU, one core, `scripts/bench_engine.py`)",
        table(["stage", "ms"], [[name, f"{ms:.2f}"] for name, ms in costs.items()]),
    ]
    return "\n\n".join(sections) + "\n"


def content_evaluation() -> tuple[str, list[HeadReport]]:
    """The content heads' version and grouped out-of-fold quality (retrained like scripts/train_content.py)."""
    model, reports = train_content()
    return model.version, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild-cache", action="store_true", help="decode the corpus again instead of using the /tmp caches")
    args = parser.parse_args()
    training = train(args.rebuild_cache)
    clips = load_clips(args.rebuild_cache)
    text = report(Evaluation(training), robustness_spectra(clips, args.rebuild_cache), *content_evaluation())
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
