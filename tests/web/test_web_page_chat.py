"""The agent page's chat panel in a real headless Chromium: markup arrives as text.

The real app over a real store (SQLite) serves the page; Alice and Bob log in
in two browser contexts. Skipped without chromium, except under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from chat_rig import ChatNode, chat_node
from web_fakes import PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
expect = playwright_api.expect
if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but no chromium on PATH: .ci/run should have installed it")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")

PAYLOADS = (
    "<img src=x onerror=\"window.pwned=1;document.title='pwned'\">",
    "<script>window.pwned=2</script><b>bold?</b>",
    '<svg onload="window.pwned=3"></svg> & &amp; "quotes"',
)


async def log_in(browser: Any, node: ChatNode, login: str) -> Any:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(node.http_base + "/")
    await page.fill("#login-name", login)
    await page.fill("#login-password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#status")).to_have_text("connected")
    await expect(page.locator("#chat")).to_be_visible()
    return page


@pytest.fixture
async def node_and_browser(tmp_path: Path) -> AsyncIterator[tuple[ChatNode, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with chat_node(url) as node, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield node, browser
        finally:
            await browser.close()


async def test_html_and_script_in_a_message_display_as_text_and_run_nothing(
    node_and_browser: tuple[ChatNode, Any],
) -> None:
    node, browser = node_and_browser
    alice = await log_in(browser, node, "alice")
    bob = await log_in(browser, node, "bob")
    title = await bob.title()

    await alice.fill("#chat-peer", "bob")
    await alice.click("#chat-open button[type=submit]")
    await expect(alice.locator("#chat-form")).to_be_visible()
    for text in PAYLOADS:
        await alice.fill("#chat-text", text)
        await alice.click("#chat-form button[type=submit]")
    await expect(alice.locator("#chat-log .msg")).to_have_count(len(PAYLOADS))

    # bob's list shows the new conversation with 3 unread; he opens it
    entry = bob.locator("#chat-list li").first
    await expect(entry.locator(".unread")).to_have_text(str(len(PAYLOADS)))
    await entry.get_by_role("button", name="alice").click()
    lines = bob.locator("#chat-log .msg .text")
    await expect(lines).to_have_count(len(PAYLOADS))
    assert await lines.all_text_contents() == list(PAYLOADS)
    for page in (alice, bob):
        assert (
            await page.locator(
                "#chat-log img, #chat-log script, #chat-log svg, #chat-log b:not(.from)"
            ).count()
            == 0
        )
        assert await page.evaluate("window.pwned") is None
    assert await bob.title() == title

    # live, while open: a message arrives as text, and bob's page marks it read
    await alice.fill("#chat-text", "<i>live</i>")
    await alice.click("#chat-form button[type=submit]")
    await expect(lines).to_have_count(len(PAYLOADS) + 1)
    assert await lines.last.text_content() == "<i>live</i>"
    last = len(PAYLOADS) + 1
    for _ in range(100):  # the read mark is written after the page saw the message
        (conversation,) = await node.store.chat_conversations_for("bob")
        if conversation.unread_for("bob") == 0:
            break
        await asyncio.sleep(0.02)
    assert conversation.last_seq == last
    bob_member = conversation.member("bob")
    assert bob_member is not None
    assert bob_member.last_read_seq == last


async def test_a_message_typed_while_the_server_is_down_arrives_once_after_restart(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    slow = {"timeout": 20_000}  # the page reconnects with backoff
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            async with chat_node(url) as first:
                port = first.port
                alice = await log_in(browser, first, "alice")
                bob = await log_in(browser, first, "bob")
                await alice.fill("#chat-peer", "bob")
                await alice.click("#chat-open button[type=submit]")
                await alice.fill("#chat-text", "before")
                await alice.click("#chat-form button[type=submit]")
                entry = bob.locator("#chat-list li").first
                await expect(entry.locator(".unread")).to_have_text("1")
                await entry.get_by_role("button", name="alice").click()
                await expect(bob.locator("#chat-log .msg .text")).to_have_text(["before"])
            # the server is gone; alice writes anyway
            await expect(alice.locator("#status")).not_to_have_text("connected")
            await alice.fill("#chat-text", "while you were down")
            await alice.click("#chat-form button[type=submit]")
            await expect(alice.locator("#chat-error")).to_have_text(
                "not connected: sending when back"
            )
            async with chat_node(url, port=port) as second:
                await expect(alice.locator("#status")).to_have_text("connected", **slow)
                await expect(bob.locator("#status")).to_have_text("connected", **slow)
                texts = bob.locator("#chat-log .msg .text")
                await expect(texts).to_have_text(["before", "while you were down"], **slow)
                await expect(alice.locator("#chat-log .msg .text")).to_have_text(
                    ["before", "while you were down"], **slow
                )
                (conversation,) = await second.store.chat_conversations_for("alice")
                stored = await second.store.chat_messages(
                    conversation.id, after=0, before=None, limit=10
                )
                assert [(m.seq, m.text) for m in stored] == [
                    (1, "before"),
                    (2, "while you were down"),
                ]
        finally:
            await browser.close()
