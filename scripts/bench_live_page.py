#!/usr/bin/env python3
"""Browser CPU of the live status page with 64 sources at one update per window each.

Target (issue "Show, don't tell"): under 10 % of one core. An in-process
StatusSink behind the real aiohttp app gets one verdict per source every
``--window`` seconds (spread evenly, like 64 unsynchronised radios); headless
Debian Chromium shows the page, and the renderer's main-thread busy time
(DevTools ``Performance.getMetrics`` TaskDuration) is divided by wall time.

    .venv/bin/python scripts/bench_live_page.py [--sources 64] [--window 4] [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright  # noqa: E402

from streamer.sinks.metrics import Metrics  # noqa: E402
from streamer.types import Decision, WindowVerdict  # noqa: E402
from streamer.web import StatusSink, bound_port, start_web_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def _verdict(index: int, window_s: float, rng: random.Random) -> WindowVerdict:
    score = rng.random()
    return WindowVerdict(
        start_ms=round(index * window_s * 1000), end_ms=round((index + 1) * window_s * 1000), vocal_percentage=20.0,
        vocal_ai_percentage=0.0, vocal_ai_confidence=0.0, instrumental_percentage=80.0, instrumental_ai_percentage=0.0,
        instrumental_ai_confidence=score, silence_percentage=0.0, speech_percentage=0.0, level_dbfs=-30 * rng.random(),
        ai_score=score, decision=Decision.AI if score >= 0.5 else Decision.HUMAN, running_ai_score=score,
        rolling_ai_score=score, captured_at=time.time(),
    )  # fmt: skip


async def _feed(board: StatusSink, sources: int, window_s: float, seconds: float) -> int:
    """One verdict per source per window, sources staggered across the window; returns the updates sent."""
    rng = random.Random(0)
    step = window_s / sources
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        source = sent % sources
        await board.on_window(f"radio{source:02d}", _verdict(sent // sources, window_s, rng))
        sent += 1
        await asyncio.sleep(max(0.0, started + sent * step - time.monotonic()))
    return sent


async def _task_seconds(cdp) -> float:
    metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=64)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    board = StatusSink()
    runner = await start_web_server("127.0.0.1", 0, board, Metrics().registry)
    try:
        # A first round so every row exists before measuring steady state.
        await _feed(board, args.sources, 0.5, 0.5)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 2400})
            await page.goto(f"http://127.0.0.1:{bound_port(runner)}/")
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            await asyncio.sleep(2.0)
            busy_before, wall_before = await _task_seconds(cdp), time.monotonic()
            sent = await _feed(board, args.sources, args.window, args.seconds)
            busy, wall = await _task_seconds(cdp) - busy_before, time.monotonic() - wall_before
            rows = await page.locator("tr[data-source]").count()
            await browser.close()
    finally:
        await runner.cleanup()
    print(f"{args.sources} sources, one update per {args.window:g} s window each: {sent} updates in {wall:.1f} s, {rows} rows")
    print(f"  renderer main thread busy {busy:.2f} s = {100 * busy / wall:.1f} % of one core (target < 10 %)")


if __name__ == "__main__":
    asyncio.run(main())
