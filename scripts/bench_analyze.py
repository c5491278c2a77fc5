#!/usr/bin/env python3
"""How many times faster than real time is `aimd analyze` on one core?

Target (issue: the pipeline): a 3-minute 44.1 kHz stereo MP3, end to end
(decode + resample + engine), process start-up amortised over a few files,
at least 300× real time on one core. The process is pinned to one CPU with
taskset so both the decoder thread and the engine thread share it.

    .venv/bin/python scripts/bench_analyze.py [--files 4] [--seconds 180]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.audio.encode import encode  # noqa: E402
from streamer.synth import music  # noqa: E402


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    aimd = shutil.which("aimd") or str(Path(sys.executable).with_name("aimd"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.files):
            path = Path(tmp) / f"song{i}.mp3"
            encode(music(args.seconds, seed=i), 44_100, path, "mp3", bit_rate=192_000)
            paths.append(str(path))
        audio_seconds = args.files * args.seconds
        cmd = ["taskset", "-c", "0", aimd, "analyze", "--json", *paths]
        best = best_cpu = float("inf")
        for _ in range(args.runs):
            started = time.perf_counter()
            cpu_before = _children_cpu_s()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, _children_cpu_s() - cpu_before)
        print(f"{args.files} × {args.seconds:.0f} s MP3 (44.1 kHz stereo, 192 kbps) on one core (taskset -c 0):")
        print(f"  wall time {best:.2f} s (best of {args.runs}, process start-up included)")
        print(f"  speed     {audio_seconds / best:.0f}× real time")
        # On a busy machine other processes take turns on core 0 and inflate the wall time;
        # the process's own CPU time is what one core would need if it were idle.
        print(f"  CPU time  {best_cpu:.2f} s ({audio_seconds / best_cpu:.0f}× real time per core-second)")
        print(f"  cores     {os.cpu_count()} on this machine; 1 used")


if __name__ == "__main__":
    main()
