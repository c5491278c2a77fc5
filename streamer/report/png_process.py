"""Draws the PNG report in a second process while ``aimd analyze`` is still analysing.

matplotlib takes ~0.3 s to import and ~0.07 s to draw an input: half the time
``aimd analyze`` takes for a 3-minute song (~0.75 s), where a report may add
20 %. A thread would fight the analysis for the GIL; a process runs on another
core (measured: the thread slowed the analysis by 0.3 s, the process by 0.05–0.09 s). It
imports matplotlib while the first input is analysed and draws each input as
soon as the next one starts, so only the last row and the PNG encoding are
left once the analysis ends. The rows stay in the worker: sending each 1.5 MB
image back and forth would add to that tail.
"""

from __future__ import annotations

import gc
import importlib.util
import multiprocessing
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from .entry import ReportEntry
from .png import MAX_PNG_INPUTS, NO_MATPLOTLIB, PngReportError, draw_row, save_rows, warm_up


class PngReport:
    """Collects the inputs of a run into ``dest``; call :meth:`close` in all cases, :meth:`write` on success."""

    def __init__(self, dest: Path, inputs: int) -> None:
        # Checked now rather than after minutes of analysis.
        if importlib.util.find_spec("matplotlib") is None:
            raise PngReportError(NO_MATPLOTLIB)
        if inputs > MAX_PNG_INPUTS:
            raise PngReportError(f"a PNG report shows at most {MAX_PNG_INPUTS} inputs, not {inputs}: use .html")
        self.dest = dest
        # fork: the worker starts with numpy and aimd already imported (spawn redoes them: 0.9 s CPU instead of 0.5).
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
        self._executor = ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker)
        self._tasks: list[Future[None]] = [self._executor.submit(warm_up)]

    def add(self, entry: ReportEntry) -> None:
        self._tasks.append(self._executor.submit(_draw, entry))

    def write(self) -> None:
        try:
            for task in self._tasks:  # raises the first failure, before anything is written
                task.result()
            self._executor.submit(_save, self.dest).result()
        except BrokenProcessPool:
            raise PngReportError("the process drawing the PNG report stopped unexpectedly") from None

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)


#: The rows drawn so far; filled only in the worker, which serves a single PngReport.
_rows: list[np.ndarray] = []


def _draw(entry: ReportEntry) -> None:
    _rows.append(draw_row(entry))


def _save(dest: Path) -> None:
    save_rows(_rows, dest)


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group; the parent stops the run and shuts this worker down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Collections walk every object inherited from the parent: 12 % of matplotlib's import. The worker
    # lives for one run and reuses one figure, so the few cycles it leaves are not worth collecting.
    gc.disable()
