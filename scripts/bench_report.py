#!/usr/bin/env python3
"""What does ``--report`` add to ``aimd analyze``? Target (issue #8, "Show, don't tell"): at most 20 %.

Times ``aimd analyze`` without a report, with ``--report out.html`` and with
``--report out.png`` in the two ways it is used: on one 3-minute MP3, and on a
folder of them (every other one with decoder artefacts, so both kinds of
evidence plot are drawn). Runs are interleaved and the best of ``--runs`` is
kept, as the shared machine is noisy; the median wall time and the load average
show how noisy it was. Wall time is what the user waits for; CPU
time (user + sys of every process) is the work done, which a second core hides
from the wall clock. ``--one-cpu`` pins everything to one CPU: the worst case,
where nothing can overlap.

    .venv/bin/python scripts/bench_report.py [--folder 4] [--seconds 180] [--runs 5] [--one-cpu]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamer.audio.encode import encode  # noqa: E402
from streamer.engines.local.artefacts import decoder_artefacts  # noqa: E402
from streamer.synth import music  # noqa: E402

VARIANTS = ("analyze", "--report .html", "--report .png")


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run (CPU of the process and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    if run.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{run.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _bench(title: str, base: list[str], out: Path, runs: int) -> None:
    commands = [base, *([*base, "--report", str(out.with_suffix(suffix))] for suffix in (".html", ".png"))]
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(runs):  # interleaved, so a busy spell of the machine hits every variant alike
        for command, timed in zip(commands, times, strict=True):
            timed.append(_timed(command))
    walls = [[wall for wall, _ in timed] for timed in times]
    cpus = [[cpu for _, cpu in timed] for timed in times]
    print(title)
    for name, wall, cpu in zip(VARIANTS, walls, cpus, strict=True):
        median = _vs(statistics.median(wall), statistics.median(walls[0]))
        print(f"  {name:15s} wall {_vs(min(wall), min(walls[0]))}  median {median}   CPU {_vs(min(cpu), min(cpus[0]))}")


def _vs(seconds: float, plain: float) -> str:
    return f"{seconds:5.2f} s ({100 * (seconds / plain - 1):+5.1f} %)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=int, default=4, help="songs in the folder case")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each song")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--one-cpu", action="store_true", help="pin to one CPU (nothing overlaps: the worst case)")
    args = parser.parse_args()
    # `-m streamer` from this checkout: the bench measures the code beside it, whatever is installed.
    aimd = [sys.executable, "-m", "streamer", "analyze"]
    pin = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] if args.one_cpu else []
    if pin and not shutil.which("taskset"):
        parser.error("--one-cpu needs taskset (Debian package util-linux)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "songs"
        folder.mkdir()
        for i in range(args.folder):
            audio = music(args.seconds, seed=i)
            if i % 2 == 0:
                audio = decoder_artefacts(audio, 44_100)
            encode(audio, 44_100, folder / f"song{i}.mp3", "mp3", bit_rate=192_000)
        out = Path(tmp) / "report"
        cpus = "one CPU" if pin else f"{len(os.sched_getaffinity(0))} CPUs"
        print(f"best of {args.runs}, {cpus}, {args.seconds:.0f} s MP3s at 192 kbit/s, load average {_load()}")
        _bench("one song (AI)", [*pin, *aimd, str(folder / "song0.mp3")], out, args.runs)
        _bench(f"a folder of {args.folder} songs", [*pin, *aimd, str(folder)], out, args.runs)
        print(f"load average at the end {_load()}")


def _load() -> str:
    """Runnable processes over the last minute: above the CPU count, the wall times are inflated."""
    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
