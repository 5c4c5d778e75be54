"""Two CTI nodes on one RabbitMQ: what node A publishes reaches a socket on node B.

Both nodes are `CtiService`s as `cti serve` builds them, on one SQLite store,
with CTI_BUS_URL naming RabbitMQ (an exchange of this test's own). Node A
watches the fake Asterisk that plays a queue call to Alice; node B watches an
idle one. Alice logs in on node B and gets the pop, the answer and the end of
the call, each once, through node A's hub relay; a chat message Alice posts on
node A reaches Bob's socket on node B the same way. An unreachable RabbitMQ
skips this test on a developer's machine and fails it when CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aio_pika
import httpx
import pytest
from e2e_tools import WAIT, wait_for
from test_e2e_web import GRACE, login, recv, stop, until
from websockets.asyncio.client import connect

from cti.app import CtiService
from cti.bus import BusUnavailableError
from cti.config import Settings
from cti.sim import FakeAsterisk
from cti.store import Store, seed_demo

AMQP_URL = os.environ.get("CTI_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@contextlib.asynccontextmanager
async def node(settings: Settings, store: Store) -> AsyncIterator[CtiService]:
    try:
        service = await CtiService.create(settings, store)
    except BusUnavailableError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"RabbitMQ is required in CI but unreachable: {exc}", pytrace=False)
        pytest.skip(f"RabbitMQ unreachable at {AMQP_URL} ({exc})")
    runner = asyncio.create_task(service.run())
    try:
        async with asyncio.timeout(WAIT):
            await service.wait_http_started()
        await wait_for(lambda: service.engine.stats.snapshots >= 1, "the first resync")
        yield service
    finally:
        await stop(service, runner)
        if service.bus is not None:  # the test's exchange, left by the last node out
            await _delete_exchange(dict(parse_qsl(urlsplit(settings.bus_url).query))["exchange"])


async def _delete_exchange(name: str) -> None:
    conn = await aio_pika.connect(AMQP_URL, timeout=3)
    async with conn:
        channel = await conn.channel()
        await channel.exchange_delete(name)


@dataclass(slots=True)
class TwoNodes:
    a: CtiService
    b: CtiService
    asterisk_a: FakeAsterisk  # plays calls; node B's Asterisk stays idle

    @staticmethod
    def http(service: CtiService) -> str:
        return f"http://127.0.0.1:{service.http_port}"

    async def token(self, service: CtiService, login_name: str) -> str:
        async with httpx.AsyncClient(base_url=self.http(service), timeout=WAIT) as http:
            return await login(http, login_name)

    def ws(self, service: CtiService, token: str) -> str:
        return self.http(service).replace("http://", "ws://", 1) + f"/ws?token={token}"


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[TwoNodes]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    bus_url = f"{AMQP_URL}?exchange=cti.test.{uuid.uuid4().hex[:12]}"
    async with (
        Store(url) as store,
        FakeAsterisk() as asterisk_a,
        FakeAsterisk() as asterisk_b,
    ):
        await seed_demo(store)
        asterisk_a.start_traffic(stepped=True)

        def settings(fake: FakeAsterisk) -> Settings:
            return Settings(
                ami_host="127.0.0.1",
                ami_port=fake.port,
                ari_url="",
                database_url=url,
                http_host="127.0.0.1",
                http_port=0,
                token_secret="e2e-" + "s" * 40,
                bus_url=bus_url,
            )

        async with (
            node(settings(asterisk_a), store) as a,
            node(settings(asterisk_b), store) as b,
        ):
            assert a.relay is not None
            assert b.relay is not None
            assert a.bus is not None
            assert b.bus is not None
            assert a.bus.node_id != b.bus.node_id
            yield TwoNodes(a, b, asterisk_a)


async def test_a_call_on_node_a_pops_for_alice_connected_to_node_b(nodes: TwoNodes) -> None:
    a, b = nodes.a, nodes.b
    token = await nodes.token(b, "alice")
    async with connect(nodes.ws(b, token), open_timeout=WAIT) as alice:
        hello = await recv(alice)
        assert (hello["type"], hello["stream_id"]) == ("hello", b.hub.stream_id)
        call_id = nodes.asterisk_a.place_call(GRACE)
        await nodes.asterisk_a.step(10_000)
        frames = await until(alice, "call_ended")
    calls = [f for f in frames if f.get("call_id") == call_id]
    kinds = [f["type"] for f in calls if f["type"] != "call_customer"]
    assert kinds == ["screen_pop", "call_answered", "call_ended"]
    assert calls[0]["interface"] == "PJSIP/1001"
    assert calls[0]["queue"] == "support"
    assert all(f["stream_id"] == b.hub.stream_id for f in frames)
    assert a.relay is not None
    assert b.relay is not None
    assert a.relay.stats.sent > 0
    assert b.relay.stats.applied > 0
    assert b.engine.stats.pops == 0  # node B's own Asterisk saw no call
    assert a.hub.position("alice") == 0  # Alice never logged in on node A


async def test_a_chat_message_posted_on_node_a_reaches_bob_on_node_b(nodes: TwoNodes) -> None:
    a, b = nodes.a, nodes.b
    bob_token = await nodes.token(b, "bob")
    async with connect(nodes.ws(b, bob_token), open_timeout=WAIT) as bob:
        assert (await recv(bob))["type"] == "hello"
        alice_token = await nodes.token(a, "alice")
        headers = {"Authorization": f"Bearer {alice_token}"}
        async with httpx.AsyncClient(base_url=nodes.http(a), headers=headers, timeout=WAIT) as http:
            direct = await http.post("/api/chat/direct", json={"login": "bob"})
            assert direct.status_code == 200, direct.text
            conversation = direct.json()["id"]
            posted = await http.post(
                f"/api/chat/conversations/{conversation}/messages", json={"text": "<b>hi</b>"}
            )
            assert posted.status_code == 201, posted.text
        frames = await until(bob, "chat_message")
    message = frames[-1]["message"]
    assert (message["conversation"], message["from"], message["text"]) == (
        conversation,
        "alice",
        "<b>hi</b>",
    )
    assert message["seq"] == posted.json()["seq"]
    assert frames[-1]["stream_id"] == b.hub.stream_id
