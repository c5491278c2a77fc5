"""Draws the PNG report in a second process while ``aimd analyze`` is still analysing.

Importing matplotlib and building the figure take ~0.2 s of CPU, drawing and
compressing an input ~0.05 s: a large share of the ~0.75 s ``aimd analyze``
takes for a 3-minute song, where a report may add 20 %. A thread would fight
the analysis for the GIL; a process runs on another core (measured: the thread
slowed the analysis by 0.3 s, the process by 0.05–0.09 s). It imports matplotlib
while the first input is analysed and draws and compresses each input's row as
soon as the next one starts, so only the last row is left once the analysis
ends. The image stays in the worker, which writes the file: sending rows back
would add to that tail.
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

from .entry import ReportEntry
from .png import MAX_PNG_INPUTS, NO_MATPLOTLIB, PngReportError, draw_row, warm_up
from .png_stream import PngStream


class PngReport:
    """Collects the inputs of a run into ``dest``; call :meth:`close` in all cases, :meth:`write` on success."""

    def __init__(self, dest: Path, inputs: int) -> None:
        # Checked now rather than after minutes of analysis.
        if importlib.util.find_spec("matplotlib") is None:
            raise PngReportError(NO_MATPLOTLIB)
        if inputs > MAX_PNG_INPUTS:
            raise PngReportError(f"a PNG report shows at most {MAX_PNG_INPUTS} inputs, not {inputs}: use .html")
        self.dest = dest
        # fork: the worker starts with numpy and aimd already imported (spawn would redo them: +0.3 s CPU).
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
        self._executor = ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker)
        self._tasks: list[Future[None]] = [self._executor.submit(warm_up)]
        self._rows = 0

    def add(self, entry: ReportEntry) -> None:
        try:
            self._tasks.append(self._executor.submit(_draw, entry))
        except BrokenProcessPool:
            pass  # the worker died: write() says so
        self._rows += 1

    def write(self) -> None:
        try:
            saved = self._executor.submit(_save, self.dest, self._rows)
            # The worker saves right behind the last row and exits: waiting for each reply in turn
            # would add round trips to the time `aimd analyze` spends after the analysis.
            self._executor.shutdown()
            for task in [*self._tasks, saved]:  # raises the first failure
                task.result()
        except BrokenProcessPool:
            raise PngReportError("the process drawing the PNG report stopped unexpectedly") from None

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)


#: The image so far, a row per input; filled only in the worker, which serves a single PngReport.
_image = PngStream()


def _draw(entry: ReportEntry) -> None:
    _image.add(draw_row(entry))


def _save(dest: Path, rows: int) -> None:
    if _image.bands != rows:  # a row failed to draw; write() raises that failure, and no file is written
        raise PngReportError(f"only {_image.bands} of {rows} rows were drawn")
    dest.write_bytes(_image.finish())


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group; the parent stops the run and shuts this worker down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Collections walk every object inherited from the parent: 12 % of matplotlib's import. The worker
    # lives for one run and reuses one figure, so the few cycles it leaves are not worth collecting.
    gc.disable()
    _without_matplotlib_docstrings()


def _without_matplotlib_docstrings() -> None:
    """Every artist class matplotlib defines writes the docstring of its ``set()`` from those of all its
    setters (``matplotlib.artist.kwdoc``): 0.1 s of a 0.27 s import. No one reads a docstring in this process."""
    try:
        import matplotlib.artist
    except ImportError:
        return  # warm_up() reports it
    matplotlib.artist.kwdoc = lambda artist: ""
