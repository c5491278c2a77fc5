"""Headless Debian Chromium for the report and live-page tests (Playwright, never a downloaded browser).

    async with chromium() as browser:
        page = await browser.new_page()
        await expect(page.locator("h1")).to_have_text("…")
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator

import pytest

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # the tests that need a browser skip; see chromium()
    async_playwright = expect = None

CHROMIUM = "/usr/bin/chromium"
#: Flags from the issue: no GPU, no background traffic, nothing but what the test loads.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium)")
    if async_playwright is None:
        pytest.skip("playwright not installed (pip install playwright; it drives the system browser)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
