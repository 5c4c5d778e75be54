"""The agent page in a real headless Chromium (skipped when no browser is available)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from web_fakes import PASSWORD, make_app, serve

from cti.web.hub import Hub

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
expect = playwright_api.expect
# The page's Content-Security-Policy forbids eval, so waits use locators, never
# page.wait_for_function (which evaluates strings).
# CI installs Debian's chromium (.ci/run): there a missing browser is a failure.
if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but no chromium on PATH: .ci/run should have installed it")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")

EVIL = '<img src=x onerror="window.pwned=1">Mallory'


def pop(call_id: str, name: str = "José", **extra: Any) -> dict[str, Any]:
    return {
        "type": "screen_pop",
        "call_id": call_id,
        "interface": "PJSIP/1001",
        "caller_number": "15551230001",
        "caller_name": name,
        "dialed_number": "5000",
        "queue": "support",
        "waited_seconds": 6.4,
        "ivr_path": [{"step": "menu", "values": {"choice": "1"}, "at": 1.0}],
        "variables": {"CTI_ACCOUNT": "23456"},
        "account": "23456",
        "customer": {"name": "José Álvarez", "account": "23456", "notes": "VIP <b>x</b>"},
        "late": False,
        **extra,
    }


@pytest.fixture
async def page_and_hub() -> AsyncIterator[tuple[Any, Hub]]:
    hub = Hub()
    async with serve(make_app(hub)) as ws_base, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(ws_base.replace("ws://", "http://") + "/")
            yield page, hub
        finally:
            await browser.close()


async def test_login_pop_update_and_reconnect(page_and_hub: tuple[Any, Hub]) -> None:
    page, hub = page_and_hub
    await page.fill("#login-name", "alice")
    await page.fill("#login-password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#status")).to_have_text("connected")

    hub.publish_to_interface("PJSIP/1002", pop("for-bob", name="Bob's caller"))
    hub.publish_to_interface("PJSIP/1001", pop("c1", name=EVIL))
    card = page.locator('[data-call="c1"]')
    await card.wait_for()
    assert EVIL in await card.locator("h3").text_content()  # shown as text, not parsed
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("img").count() == 0
    text = await card.text_content()
    for expected in ("José Álvarez", "VIP <b>x</b>", "support", "menu: choice=1", "CTI_ACCOUNT"):
        assert expected in text
    assert await page.locator('[data-call="for-bob"]').count() == 0

    hub.publish_to_interface(
        "PJSIP/1001",
        {"type": "call_answered", "call_id": "c1", "interface": "PJSIP/1001", "at": 2.0},
    )
    await expect(page.locator('[data-call="c1"] .badge')).to_have_text("answered by PJSIP/1001")

    # The server drops the socket; a pop fires while the page is reconnecting.
    hub.shutdown()
    await asyncio.sleep(0)
    hub.publish_to_interface("PJSIP/1001", pop("c2"))
    await page.locator('[data-call="c2"]').wait_for()
    assert hub.stats.replays == 1  # it came back with since= and got the missed pop
    hub.publish_to_interface(
        "PJSIP/1001",
        {"type": "call_ended", "call_id": "c2", "outcome": "answered", "talk_seconds": 12.2},
    )
    await expect(page.locator('[data-call="c2"] .badge')).to_have_text(
        "ended: answered, talked 12 s"
    )
    assert await page.locator(".card").count() == 2
