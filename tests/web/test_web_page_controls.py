"""Call controls on the agent page, clicked in a real headless Chromium.

The whole CTI runs as `cti serve` builds it (`CtiService` on a temporary
SQLite store with the demo users, uvicorn on 127.0.0.1:0) against a stepped
`FakeAsterisk`: a queue call is played frame by frame until Alice has answered,
then the page's buttons are clicked and the test checks what the fake Asterisk
received (`FakeAsterisk.actions`) and what the card shows. Skipped without
chromium, except under CI=true (see test_web_page.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cti.app import CtiService
from cti.config import Settings
from cti.sim import CallFlow, FakeAsterisk
from cti.store import Store, seed_demo

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
expect = playwright_api.expect
if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but no chromium on PATH: .ci/run should have installed it")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")

ALICE = "PJSIP/1001"
WAIT = 5.0
# Actions the AMI client sends by itself (keepalive, resync lists).
HOUSEKEEPING = frozenset(
    {"ping", "coreshowchannels", "queuestatus", "queuesummary", "bridgelist", "devicestatelist"}
)


@dataclass(slots=True)
class Stack:
    service: CtiService
    fake: FakeAsterisk
    browser: Any
    url: str

    def actions(self) -> list[tuple[str, dict[str, str]]]:
        return [(a, dict(p)) for a, p in self.fake.actions if a not in HOUSEKEEPING]

    async def page_as(self, login: str) -> Any:
        page = await self.browser.new_page()
        await page.goto(self.url)
        await page.fill("#login-name", login)
        await page.fill("#login-password", "demo")
        await page.click("button[type=submit]")
        await expect(page.locator("#status")).to_have_text("connected")
        return page

    def idle(self) -> bool:
        client, engine = self.service.client, self.service.engine
        return client.stream.empty() and engine.stats.events == client.stats.events

    async def answered_call(self) -> str:
        """Place a queue call to Alice; step the fake until she talks with the caller."""
        call_id = self.fake.place_call(CallFlow(agents=(ALICE,), caller_name="Grace"))

        def answered() -> bool:
            # answered, and both legs in one bridge (a transfer needs the bridge)
            return any(
                c.call_id == call_id
                and c.answered_by == ALICE
                and len(c.channels) == 2
                and len({ch.bridge for ch in c.channels}) == 1
                and all(ch.bridge for ch in c.channels)
                for c in self.service.model.calls()
            )

        async with asyncio.timeout(WAIT):
            while not answered():
                assert await self.fake.step(1), "the call ended before Alice answered"
                await until(self.idle)
        return call_id

    async def step_all(self) -> None:
        await self.fake.step(10_000)
        await until(self.idle)


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 (counters of other parts: no event to await)
            await asyncio.sleep(0.002)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with Store(url) as store, FakeAsterisk() as fake:
        await seed_demo(store)
        fake.start_traffic(stepped=True)
        settings = Settings(
            ami_host="127.0.0.1",
            ami_port=fake.port,
            ari_url=f"http://127.0.0.1:{fake.ari_port}",
            database_url=url,
            http_host="127.0.0.1",
            http_port=0,
            token_secret="page-" + "s" * 40,
        )
        service = await CtiService.create(settings, store)
        runner = asyncio.create_task(service.run(), name="page-cti")
        try:
            async with asyncio.timeout(WAIT):
                await service.wait_http_started()
            await until(lambda: service.engine.stats.snapshots >= 1)
            async with playwright_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    yield Stack(service, fake, browser, f"http://127.0.0.1:{service.http_port}/")
                finally:
                    await browser.close()
        finally:
            service.server.should_exit = True
            http = [t for t in asyncio.all_tasks() if t.get_name() == "cti-http"]
            with contextlib.suppress(TimeoutError):
                await until(lambda: all(t.done() for t in http))
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(runner, WAIT)


async def test_hang_up_from_the_card_ends_the_call(stack: Stack) -> None:
    page = await stack.page_as("alice")
    call_id = await stack.answered_call()
    card = page.locator(f'[data-call="{call_id}"]')
    await expect(card.locator(".badge")).to_have_text(f"answered by {ALICE}")
    assert await card.get_by_role("button", name="Listen").count() == 0  # agents do not spy

    await card.get_by_role("button", name="Hang up").click()
    await expect(card.locator(".result")).to_have_text("hangup: ok (Channel Hungup)")
    ((name, hangup),) = stack.actions()
    assert name == "hangup"
    assert hangup["Channel"].startswith(ALICE + "-")  # her leg, not the caller's

    await stack.step_all()  # the fake sends the hangup's events
    await expect(card.locator(".badge")).to_have_text("ended: answered, talked 0 s")
    assert await card.get_by_role("button", name="Hang up").is_disabled()
    assert await card.get_by_role("button", name="Blind transfer").is_disabled()


async def test_blind_transfer_and_supervisor_listen(stack: Stack) -> None:
    alice = await stack.page_as("alice")
    call_id = await stack.answered_call()
    card = alice.locator(f'[data-call="{call_id}"]')
    await expect(card.locator(".badge")).to_have_text(f"answered by {ALICE}")

    # Carol (supervisor of support) sees the call from the snapshot, and listens.
    carol = await stack.page_as("carol")
    carol_card = carol.locator(f'[data-call="{call_id}"]')
    await carol_card.get_by_role("button", name="Listen").click()
    await expect(carol_card.locator(".result")).to_have_text(
        "listen: ok (Originate successfully queued)"
    )
    ((name, spy),) = stack.actions()
    assert (name, spy["Channel"], spy["Application"]) == ("originate", "PJSIP/1003", "ChanSpy")
    assert spy["Data"] == f"{ALICE}-,q"  # ChanSpy matches the prefix of her channels

    # Alice: the Consult / Blind buttons, then Blind transfer to 1002.
    assert await card.get_by_role("button", name="Complete transfer").is_hidden()
    target = card.get_by_label("Transfer target")
    await target.fill("10x2")
    assert await target.get_attribute("aria-invalid") == "true"  # flagged while typed
    await target.fill("1002")
    assert await target.get_attribute("aria-invalid") == "false"
    await card.get_by_role("button", name="Blind transfer").click()
    await expect(card.locator(".result")).to_have_text("transfer: ok (Transfer succeeded)")
    name, transfer = stack.actions()[-1]
    assert name == "blindtransfer"
    assert transfer["Channel"].startswith(ALICE + "-")
    assert transfer["Exten"] == "1002"
    assert await card.get_by_role("button", name="Blind transfer").is_enabled()


async def test_a_bad_number_in_the_dial_box_gets_the_servers_error(stack: Stack) -> None:
    page = await stack.page_as("alice")
    dial = page.locator("#dial")
    await expect(dial).to_be_visible()
    await page.fill("#dial-number", "555-CALL")
    assert await page.get_attribute("#dial-number", "aria-invalid") == "true"
    await dial.get_by_role("button", name="Call").click()
    await expect(dial.locator(".result")).to_have_text(
        "dial: number: String should match pattern '^[0-9*#+]{1,32}$'"
    )
    assert await dial.get_by_role("button", name="Call").is_enabled()
    assert stack.actions() == []  # nothing reached Asterisk

    # A good number goes out as an Originate from Alice's phone.
    await page.fill("#dial-number", "5551234")
    await page.press("#dial-number", "Enter")
    await expect(dial.locator(".result")).to_have_text("dial: ok (Originate successfully queued)")
    ((name, originate),) = stack.actions()
    assert (name, originate["Channel"], originate["Exten"]) == ("originate", ALICE, "5551234")


async def test_consult_disables_while_in_flight_then_offers_complete_and_cancel(
    stack: Stack,
) -> None:
    # Hold back command results between server and page until `release`.
    held: list[str | bytes] = []
    gate = {"open": True}
    sockets: list[Any] = []

    async def relay(ws: Any) -> None:
        sockets.append(ws)
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if not gate["open"] and '"command_result"' in str(message):
                held.append(message)
            else:
                ws.send(message)

        server.on_message(to_page)

    page = await stack.browser.new_page()
    await page.route_web_socket("**/ws?*", relay)
    await page.goto(stack.url)
    await page.fill("#login-name", "alice")
    await page.fill("#login-password", "demo")
    await page.click("button[type=submit]")
    await expect(page.locator("#status")).to_have_text("connected")
    call_id = await stack.answered_call()
    card = page.locator(f'[data-call="{call_id}"]')
    await expect(card.locator(".badge")).to_have_text(f"answered by {ALICE}")

    gate["open"] = False
    await card.get_by_label("Transfer target").fill("1002")
    await card.get_by_role("button", name="Consult").click()
    await expect(card.locator(".result")).to_have_text("attended_transfer…")
    await until(lambda: len(held) == 1)  # the server answered; the page has not seen it
    for name in ("Hang up", "Hold", "Consult", "Blind transfer", "Send DTMF"):
        assert await card.get_by_role("button", name=name).is_disabled(), name
    assert await card.get_by_label("Transfer target").is_disabled()
    ((action, atxfer),) = stack.actions()
    assert (action, atxfer["Exten"]) == ("atxfer", "1002")

    gate["open"] = True
    (ws,) = sockets
    ws.send(held.pop())
    await expect(card.locator(".result")).to_have_text(
        "attended_transfer: ok (Atxfer successfully queued)"
    )
    assert await card.get_by_role("button", name="Blind transfer").is_hidden()
    assert await card.get_by_role("button", name="Complete transfer").is_enabled()

    # The fake made no consultation leg: the server says so, the card goes back.
    await card.get_by_role("button", name="Cancel consult").click()
    await expect(card.locator(".result")).to_have_text(
        f"attended_transfer_cancel: no attended transfer in progress on call {call_id}"
    )
    assert await card.get_by_role("button", name="Blind transfer").is_visible()
    assert await card.get_by_role("button", name="Cancel consult").is_hidden()


async def test_state_bar_pauses_with_a_reason_and_follows_asterisk(stack: Stack) -> None:
    page = await stack.page_as("alice")
    bar = page.locator("#agent-state")
    await expect(bar.locator("#state-name")).to_have_text("Available")
    assert await bar.get_by_role("button", name="Unpause").is_hidden()
    reasons = await bar.locator("#state-reason option").all_text_contents()
    assert reasons == list(stack.service.settings.pause_reasons)
    assert "wrap-up" not in reasons  # reserved for the CTI's own wrap-up

    await bar.locator("#state-reason").select_option("lunch")
    await bar.get_by_role("button", name="Pause").click()
    await expect(bar.locator(".result")).to_have_text(re.compile(r"^agent_pause: ok"))
    # the bar follows Asterisk's QueueMemberPause echo, not the click
    await expect(bar.locator("#state-name")).to_have_text("Paused (lunch)")
    pauses = [p for a, p in stack.actions() if a == "queuepause"]
    assert pauses
    assert {(p["Interface"], p["Paused"], p["Reason"]) for p in pauses} == {
        (ALICE, "true", "lunch")
    }
    await expect(bar.locator("#state-since")).to_have_text(re.compile(r"^00:0\d$"))

    await bar.get_by_role("button", name="Unpause").click()
    await expect(bar.locator("#state-name")).to_have_text("Available")
    assert await bar.get_by_role("button", name="Pause").is_visible()
    assert [p["Paused"] for a, p in stack.actions() if a == "queuepause"][-1] == "false"


async def test_supervisor_board_counts_a_finished_call_and_agents_see_no_board(
    stack: Stack,
) -> None:
    carol = await stack.page_as("carol")
    row = carol.locator('#board tr[data-queue="support"]')
    await expect(row.locator('td[data-col="Offered"]')).to_have_text("0")
    alice = await stack.page_as("alice")
    assert await alice.locator("#board-section").is_hidden()

    await stack.answered_call()
    await expect(row.locator('td[data-col="On call"]')).to_have_text("1")
    await stack.step_all()  # the caller hangs up
    await expect(row.locator('td[data-col="Offered"]')).to_have_text("1")
    await expect(row.locator('td[data-col="Answered"]')).to_have_text("1")
    await expect(row.locator('td[data-col="SL %"]')).to_have_text("100.0")
    assert "T = 20 s" in (await row.get_attribute("title") or "")
    await carol.select_option("#board-window", "last_15_min")
    await expect(row.locator('td[data-col="Answered"]')).to_have_text("1")
    assert await alice.locator('#board tr[data-queue="support"]').count() == 0
