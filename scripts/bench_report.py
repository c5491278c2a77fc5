#!/usr/bin/env python3
"""What does ``--report`` add to ``aimd analyze``? Target (issue "Show, don't tell"): at most 20 %.

Times the same `aimd analyze` run (a few 3-minute MP3s, one process pinned to
one CPU) without a report, with ``--report out.html`` and with ``--report
out.png``; the best of ``--runs`` of each, as the shared machine is noisy.

    .venv/bin/python scripts/bench_report.py [--files 4] [--seconds 180] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.audio.encode import encode  # noqa: E402
from streamer.engines.local.artefacts import decoder_artefacts  # noqa: E402
from streamer.synth import music  # noqa: E402


def _best_time(command: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all-cores", action="store_true",
                        help="do not pin to one CPU (matplotlib's import then overlaps with analysis)")
    args = parser.parse_args()
    aimd = shutil.which("aimd") or str(Path(sys.executable).with_name("aimd"))
    pin = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] if shutil.which("taskset") and not args.all_cores else []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.files):
            audio = music(args.seconds, seed=i)
            if i % 2:  # half of them AI, so both kinds of evidence plot are drawn
                audio = decoder_artefacts(audio, 44_100)
            path = Path(tmp) / f"song{i}.mp3"
            encode(audio, 44_100, path, "mp3", bit_rate=192_000)
            paths.append(str(path))
        base = [*pin, aimd, "analyze", *paths]
        plain = _best_time(base, args.runs)
        print(f"{args.files} × {args.seconds:.0f} s, best of {args.runs}, {'one CPU' if pin else 'all CPUs'}")
        print(f"  analyze             {plain:6.2f} s")
        for suffix in ("html", "png"):
            report = Path(tmp) / f"report.{suffix}"
            took = _best_time([*base, "--report", str(report)], args.runs)
            print(f"  analyze --report .{suffix:4s} {took:6.2f} s  (+{100 * (took / plain - 1):4.1f} %, "
                  f"{report.stat().st_size / 1024:.0f} KiB)")  # fmt: skip


if __name__ == "__main__":
    main()
