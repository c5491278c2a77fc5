"""CPU cost of the local engine per 4 s window, per stage, on one core.

Usage: python scripts/bench_engine.py [--windows N]
Prints milliseconds per window (median over N, best of 5 rounds) for each stage and the whole
LocalSession.analyze path (minus the thread hop), single-threaded BLAS/FFT.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

import numpy as np  # noqa: E402

from streamer.config import DecisionSettings  # noqa: E402
from streamer.engines.local.engine import LocalSession  # noqa: E402
from streamer.engines.local.content import analyse  # noqa: E402
from streamer.engines.local.envelope_jitter import jitter_floor  # noqa: E402
from streamer.engines.local.routing import measure_content  # noqa: E402
from streamer.engines.local.scoring import EvidenceScorer  # noqa: E402
from streamer.engines.local.spectrum import frame_db_sum, peak_residual  # noqa: E402
from streamer.types import Window  # noqa: E402
from test_local_engine_support import synthetic_music  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1000.0 * float(np.median(times))


def stage_costs(repeats: int, rounds: int = 5) -> dict[str, float]:
    """CPU ms per 4 s window of each engine stage: the median of ``repeats`` calls, in the best of
    ``rounds`` rounds. Neighbours on a shared machine inflate even CPU time (cache, frequency), by
    up to 60 % between runs here; the best round is the cost on a quiet core."""
    mono = synthetic_music(4.0, seed=0)
    scorer = EvidenceScorer()
    db_sum, frames = frame_db_sum(mono)
    mean_db = db_sum / frames
    residual = peak_residual(mean_db)
    analysis = analyse(mono)
    assert analysis is not None
    floor = jitter_floor(analysis.cepstra)
    session = LocalSession(scorer, DecisionSettings())
    window = Window(index=0, start_frame=0, samples=mono[:, None], captured_at=0.0)
    stages = {
        "routing (level, silence, speech, singing, jitter floor)": lambda: measure_content(mono, -55.0),
        "  of which jitter floor (on routing's cepstra)": lambda: jitter_floor(analysis.cepstra),
        "STFT 16384/8192 + dB mean": lambda: frame_db_sum(mono),
        "hull residual": lambda: peak_residual(mean_db),
        "comb score": lambda: scorer.comb.score(residual),
        "envelope-jitter score": lambda: scorer.jitter.score(floor, 1.0),
        "hull + comb + linear model + jitter (one scoring)": lambda: scorer.score(mean_db, frames, floor),
        "whole window (analyze: window, running, rolling)": lambda: session._analyze(window),
    }
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(rounds):  # rounds interleave the stages, so a noisy spell cannot hit one stage only
        for name, fn in stages.items():
            best[name] = min(best[name], median_ms(fn, repeats))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=50)
    args = parser.parse_args()
    print(f"ms CPU per 4 s window (median of {args.windows}, best of 5 rounds)")
    for name, ms in stage_costs(args.windows).items():
        print(f"{name:56s} {ms:7.3f}")


if __name__ == "__main__":
    main()
