"""``aimd analyze --report``: the HTML page rendered in headless Chromium with the network off, and the PNG's pixels."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from sink_fixtures import summary, verdict
from test_report_support import chromium

from streamer.audio.encode import encode
from streamer.cli import main
from streamer.engines.local.artefacts import decoder_artefacts
from streamer.engines.local.comb import CombScorer
from streamer.engines.local.spectrum import band_hz, downmix, frame_db_sum
from streamer.report import PngReport, PngReportError, ReportEntry
from streamer.report.evidence import Evidence, evidence_from_spectrum
from streamer.report.png import MAX_PNG_INPUTS
from streamer.synth import music
from streamer.types import Decision

RATE = 44_100


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-inputs")
    clean = music(24.0, seed=3)
    names = {"human": "human.flac", "ai": "ai.flac", "short": "short.flac", "bad": "bad.mp3", "silence": "silence.flac"}
    files = {key: root / name for key, name in names.items()}
    encode(clean, RATE, files["human"], "flac")
    encode(decoder_artefacts(clean, RATE, level_db=-20.0), RATE, files["ai"], "flac")
    encode(clean[: 2 * RATE], RATE, files["short"], "flac")
    encode(np.zeros_like(clean[: 12 * RATE]), RATE, files["silence"], "flac")
    files["bad"].write_bytes(b"not audio at all" * 64)
    return files


def test_decoder_artefacts_give_a_detected_grid_on_their_stride() -> None:
    audio = decoder_artefacts(music(12.0, seed=1), RATE, strides=(8, 5, 4, 2))
    db_sum, frames = frame_db_sum(downmix(audio))
    evidence = evidence_from_spectrum(db_sum / frames, CombScorer())
    assert evidence.detected
    # The Encodec-like decoder's grid is 1102.5 Hz; the engine may name a multiple of it.
    assert (evidence.grid.spacing_hz / 1102.5) % 1 == pytest.approx(0.0, abs=1e-6)
    assert f"every {evidence.grid.spacing_hz:.1f} Hz" in evidence.label
    assert np.all(np.diff(evidence.peaks_hz) == pytest.approx(evidence.grid.spacing_hz))


async def test_html_report_shows_verdicts_windows_and_peaks_offline(inputs, tmp_path: Path, capsys) -> None:
    report = tmp_path / "out.html"
    args = ["analyze", *(str(inputs[k]) for k in ("human", "ai", "short", "bad")), "--report", str(report)]
    # main() runs its own event loop, so it gets a thread of its own here.
    assert await asyncio.to_thread(main, args) == 1  # the unreadable file fails the run; the report is still written
    capsys.readouterr()
    async with chromium() as browser:
        context = await browser.new_context(offline=True, viewport={"width": 1000, "height": 900})
        requested: list[str] = []
        context.on("request", lambda request: requested.append(request.url))
        page = await context.new_page()
        await page.goto(report.as_uri())
        await page.screenshot(path=tmp_path / "report.png", full_page=True)
        assert requested == [report.as_uri()]  # everything is inline

        sections = page.locator("section.input")
        assert await sections.count() == 4
        human, ai, short, bad = (sections.nth(i) for i in range(4))
        assert (await human.locator(".verdict").inner_text()).startswith("Not AI-generated")
        assert (await ai.locator(".verdict").inner_text()).startswith("AI-generated music")
        for section in (human, ai):  # 24 s = 6 windows of 4 s, one bar each
            assert await section.locator("rect.window-bar").count() == 6
            assert "6 windows" in await section.locator("h3").first.inner_text()

        title = await ai.locator("svg text.title").text_content()
        spacing = float(re.search(r"peaks every ([\d.]+) Hz", title).group(1))
        marked = [float(hz) for hz in await ai.locator("line.grid-peak.detected").evaluate_all("ls => ls.map(l => l.dataset.hz)")]
        assert marked and marked[0] % spacing == pytest.approx(0.0, abs=0.1)
        assert np.diff(marked) == pytest.approx(spacing, abs=0.1)
        assert await human.locator("line.grid-peak.detected").count() == 0

        for section, status in ((short, "too_short"), (bad, "invalid_file")):
            assert status in await section.locator(".verdict").inner_text()
            assert await section.locator("svg").count() == 0

        # Sorting the summary by AI score puts the AI file last, then first.
        header = page.locator("#summary th", has_text="AI score")
        await header.click()
        names = await page.locator("#summary tbody tr td:first-child").all_inner_texts()
        assert names[-1].endswith("ai.flac")
        await header.click()
        names = await page.locator("#summary tbody tr td:first-child").all_inner_texts()
        assert names[0].endswith("ai.flac")
        await page.locator("#summary a", has_text="bad.mp3").click()
        assert page.url.endswith("#input-3")


def test_png_report_has_a_row_per_input_with_bars_and_peak_grid(inputs, tmp_path: Path, capsys) -> None:
    report = tmp_path / "ticket.png"
    # AI first: the human row after it must show none of its bars or peaks (rows reuse one figure).
    args = ["analyze", *(str(inputs[k]) for k in ("ai", "human", "short", "bad")), "--report", str(report)]
    assert main(args) == 1
    capsys.readouterr()
    pixels = _png_pixels(report)
    height, width, _ = pixels.shape
    assert width > 1000

    # The timelines' left spines: one dark vertical line per input with plots (ai, human).
    dark = pixels.sum(axis=-1) < 200
    spine_x = int(dark[:, : width // 10].sum(axis=0).argmax())
    (ai_top, ai_bottom), (human_top, human_bottom) = [run for run in _runs(dark[:, spine_x]) if run[1] - run[0] > 100]
    # short and bad get a strip with their status below the plots: shorter than a plot row, not empty.
    row = human_top - ai_top
    assert 2 * row < height < 3 * row
    assert dark[human_bottom + row // 3 :].any()

    # Just above the AI timeline's x axis: one red bar per 4 s window (24 s = 6), with gaps between them.
    timeline, spectrum = pixels[:, spine_x + 2 : width // 2], pixels[:, width // 2 :]
    red = _near(timeline, (217, 83, 79))  # the AI bars' colour
    assert len(_runs(red[ai_bottom - 12])) == 6
    assert not red[human_top:human_bottom].any()
    # The detected decoder grid is drawn in light red on the AI spectrum, never on the human one.
    grid = _near(spectrum, (232, 152, 149))  # the same red at 60 % opacity
    assert len(_runs(grid[ai_top + 10])) >= 5
    assert not grid[human_top:human_bottom].any()


def test_png_rows_do_not_depend_on_the_rows_drawn_before_them(inputs, tmp_path: Path, capsys) -> None:
    # Rows reuse one figure and start from a background drawn once per kind: with a spectrum, or without
    # (silence has windows but no music), drawn here after the first row had put its titles and legend up.
    ai, silence = str(inputs["ai"]), str(inputs["silence"])
    assert main(["analyze", ai, silence, ai, "--report", str(tmp_path / "three.png")]) == 0
    assert main(["analyze", silence, "--report", str(tmp_path / "alone.png")]) == 0
    capsys.readouterr()
    first, after_ai, again = np.split(_png_pixels(tmp_path / "three.png"), 3)
    assert np.array_equal(first, again)
    assert np.array_equal(after_ai, _png_pixels(tmp_path / "alone.png"))
    width = first.shape[1]
    assert (after_ai[:, width // 2 :] == 255).all()  # no spectrum
    assert (after_ai[:, : width // 2] < 128).any()  # but a timeline


def test_png_report_writes_nothing_when_a_row_fails_to_draw(tmp_path: Path) -> None:
    windows = tuple(verdict(i, Decision.AI) for i in range(3))
    flat = Evidence(band_hz(), np.zeros(len(band_hz())), CombScorer().bank[0], z=0.0)
    good = ReportEntry("good.flac", dataclasses.replace(summary(3), windows=windows), flat, threshold=0.5)
    no_spectrum = dataclasses.replace(flat, freqs_hz=np.empty(0), residual_db=np.empty(0))  # no y range to plot
    report = PngReport(tmp_path / "out.png", inputs=2)
    try:
        report.add(dataclasses.replace(good, name="broken.flac", evidence=no_spectrum))
        report.add(good)
        with pytest.raises(ValueError, match="zero-size"):
            report.write()
    finally:
        report.close()
    assert not (tmp_path / "out.png").exists()


def test_png_report_refuses_more_inputs_than_an_image_can_show(inputs, tmp_path: Path, capsys) -> None:
    args = ["analyze", *[str(inputs["bad"])] * (MAX_PNG_INPUTS + 1), "--report", str(tmp_path / "many.png")]
    assert main(args) == 2  # at once, before any input is analysed
    assert f"at most {MAX_PNG_INPUTS} inputs" in capsys.readouterr().err


def test_png_report_without_matplotlib_is_a_usage_error(inputs, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what Python does for a module that is not installed
    assert main(["analyze", str(inputs["human"]), "--report", str(tmp_path / "out.png")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_png_report_whose_drawing_process_died_fails_clearly(tmp_path: Path) -> None:
    report = PngReport(tmp_path / "out.png", inputs=1)
    try:
        (worker,) = multiprocessing.active_children()
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(PngReportError, match="stopped unexpectedly"):
            report.write()
    finally:
        report.close()
    assert not (tmp_path / "out.png").exists()


def _png_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def _near(pixels: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.abs(pixels - np.array(rgb)).max(axis=-1) < 25


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def test_report_with_an_unknown_format_is_a_usage_error(inputs, tmp_path: Path, capsys) -> None:
    assert main(["analyze", str(inputs["human"]), "--report", str(tmp_path / "out.pdf")]) == 2
    assert "must end in .html or .png" in capsys.readouterr().err
    assert not (tmp_path / "out.pdf").exists()
