"""The supervisor feed end to end: fake Asterisk -> engine -> metrics -> feed -> hub -> WebSocket.

`CtiService` on a temporary SQLite store with the demo accounts; the fake
Asterisk (stepped) plays a whole queue call to Alice in one go, far faster
than 4 updates per second. Carol (supervisor of support and sales) receives
`queue_board` frames for support, no two computed closer than 250 ms, the last
one showing the finished call; Alice (an agent) receives none.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_tools import WAIT, wait_for
from websockets.asyncio.client import ClientConnection, connect

from cti.app import CtiService
from cti.config import Settings
from cti.ids import CallId
from cti.sim import CallFlow, FakeAsterisk
from cti.store import Store, seed_demo

ALICE = "PJSIP/1001"
CALL = CallFlow(agents=(ALICE,), caller_num="15551230001", account="23456", menu="1")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[CtiService, FakeAsterisk, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with Store(url) as store, FakeAsterisk() as fake:
        await seed_demo(store)
        fake.start_traffic(stepped=True)
        settings = Settings(
            ami_host="127.0.0.1",
            ami_port=fake.port,
            ari_url="",  # no ARI: this call takes the plain dialplan IVR
            database_url=url,
            http_host="127.0.0.1",
            http_port=0,
            token_secret="e2e-" + "b" * 40,
        )
        service = await CtiService.create(settings, store)
        runner = asyncio.create_task(service.run(), name="e2e-cti")
        try:
            async with asyncio.timeout(WAIT):
                await service.wait_http_started()
            await wait_for(lambda: service.engine.stats.snapshots >= 1, "the first resync")
            yield service, fake, f"http://127.0.0.1:{service.http_port}"
        finally:
            service.server.should_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(runner), WAIT)
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


async def token(http: httpx.AsyncClient, login: str) -> str:
    response = await http.post("/api/login", json={"login": login, "password": "demo"})
    assert response.status_code == 200, response.text
    value = response.json()["token"]
    assert isinstance(value, str)
    return value


async def frames_until_quiet(ws: ClientConnection, quiet: float = 0.6) -> list[dict[str, Any]]:
    """Every frame until none came for `quiet` seconds (longer than the feed's
    250 ms, so the trailing updates are in), giving up after WAIT."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while True:
            try:
                out.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
            except TimeoutError:
                return out


async def test_a_supervisor_gets_coalesced_boards_and_an_agent_none(
    service: tuple[CtiService, FakeAsterisk, str],
) -> None:
    cti, fake, base = service
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as http:
        carol_token, alice_token = await token(http, "carol"), await token(http, "alice")
    ws = base.replace("http://", "ws://", 1) + "/ws?token="
    async with (
        connect(ws + carol_token, open_timeout=WAIT, close_timeout=1) as carol,
        connect(ws + alice_token, open_timeout=WAIT, close_timeout=1) as alice,
    ):
        assert json.loads(await carol.recv())["type"] == "hello"
        assert json.loads(await alice.recv())["type"] == "hello"
        call_id = fake.place_call(CALL)
        await fake.step(10_000)  # the whole call at once
        await wait_for(lambda: cti.model.call(CallId(call_id)) is None, "the call to end")
        carol_frames, alice_frames = await asyncio.gather(
            frames_until_quiet(carol), frames_until_quiet(alice)
        )

    boards = [f for f in carol_frames if f["type"] == "queue_board"]
    assert boards, [f["type"] for f in carol_frames]
    support = [b for b in boards if b["queue"] == "support"]
    assert support, boards
    computed = [b["at"] for b in support]
    assert all(b - a >= 0.24 for a, b in itertools.pairwise(computed)), computed
    last = support[-1]
    assert last["today"]["offered"] == 1
    assert last["today"]["answered"] == 1
    assert last["waiting"] == 0
    # many changes, few boards: the call made more changes than boards sent
    assert cti.feed is not None
    assert cti.feed.stats.board_changes > cti.feed.stats.boards_sent >= len(boards)

    # the agent sees their own states (every change) but never a board
    assert not [f for f in alice_frames if f["type"] == "queue_board"]
    own = [f for f in alice_frames if f["type"] == "agent_state"]
    assert own
    # the supervisor sees Alice's states coalesced, ending with her latest
    hers = [f for f in carol_frames if f["type"] == "agent_state" and f["interface"] == ALICE]
    assert hers
    assert len(hers) <= len(own)
    assert (hers[-1]["state"], hers[-1]["since"]) == (own[-1]["state"], own[-1]["since"])
