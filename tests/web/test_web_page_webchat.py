"""The customer page (/webchat) and the agent page in a real headless Chromium:
markup a customer types reaches the agent as text, runs nothing, and the
agent's reply reaches the customer page. Skipped without chromium, except
under CI=true."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from web_fakes import PASSWORD
from webchat_rig import Node, webchat_node

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
expect = playwright_api.expect
if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but no chromium on PATH: .ci/run should have installed it")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")

PAYLOAD = (
    "<img src=x onerror=\"window.pwned=1;document.title='pwned'\"><script>window.pwned=2</script>"
)


async def agent_page(browser: Any, node: Node, login: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(node.chat.http_base + "/")
    await page.fill("#login-name", login)
    await page.fill("#login-password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#status")).to_have_text("connected")
    return page


async def test_customer_markup_is_text_on_the_agent_page_and_the_reply_arrives(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with webchat_node(url) as node, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            alice = await agent_page(browser, node, "alice")
            title = await alice.title()
            customer = await (await browser.new_context()).new_page()
            await customer.goto(node.chat.http_base + "/webchat?queue=support")
            await customer.fill("#name", "<b>Zoé</b>")
            await customer.click("#start button[type=submit]")
            await expect(customer.locator("#status")).to_have_text("You are chatting with Alice")
            await customer.fill("#text", PAYLOAD)
            await customer.click("#send button[type=submit]")
            await expect(customer.locator("#log .msg .text")).to_have_text([PAYLOAD])

            entry = alice.locator("#chat-list li").first
            await entry.get_by_role("button", name="customer: <b>Zoé</b>").click()
            lines = alice.locator("#chat-log .msg .text")
            await expect(lines).to_have_text([PAYLOAD])
            for page, log in ((alice, "#chat-list, #chat-log"), (customer, "#status, #log")):
                markup = page.locator(log).locator("img, script, b:not(.from)")
                assert await markup.count() == 0
                assert await page.evaluate("window.pwned") is None
            assert await alice.title() == title

            await alice.fill("#chat-text", "<i>Hello</i> & welcome")
            await alice.click("#chat-form button[type=submit]")
            await expect(customer.locator("#log .msg .text")).to_have_text(
                [PAYLOAD, "<i>Hello</i> & welcome"]
            )
            await expect(customer.locator("#log .msg .from").last).to_have_text("Agent:")
            assert await customer.locator("#log i").count() == 0
        finally:
            await browser.close()
