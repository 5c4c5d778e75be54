"""The whole CTI as `cti serve` builds it: fake Asterisk -> AMI -> engine -> hub -> WebSocket.

`CtiService` (cti/app.py) runs on a temporary SQLite store seeded with the
demo accounts and customers, with uvicorn on 127.0.0.1:0. Alice and Bob log
in over REST and open their WebSockets; the fake Asterisk (stepped) plays a
queue call to Alice. Only Alice is told, with the customer record the store
holds for the caller, and the finished call is written to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_tools import WAIT, wait_for
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cti.app import CtiService
from cti.config import Settings
from cti.sim import CallFlow, FakeAsterisk
from cti.sim.stasis import STASIS_DNIS
from cti.store import Store, seed_demo
from cti.web.adapters import AccountDirectory
from cti.web.auth import TokenAuth

ALICE, BOB = "PJSIP/1001", "PJSIP/1002"
GRACE = CallFlow(agents=(ALICE,), caller_num="15551230001", account="23456", menu="1")
# The data-dip IVR of ari_stasis_ivr.jsonl, called by Ada Lovelace (customer 42).
ADA_DIP = CallFlow(kind="stasis", dnis=STASIS_DNIS, agents=(ALICE,), caller_num="15551230042")


@dataclass(slots=True)
class Stack:
    service: CtiService
    fake: FakeAsterisk
    store: Store
    http: str  # http://127.0.0.1:<port>

    @property
    def ws(self) -> str:
        return self.http.replace("http://", "ws://", 1) + "/ws"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def running_stack(tmp_path: Path) -> AsyncIterator[Stack]:
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
            token_secret="e2e-" + "s" * 40,
        )
        service = await CtiService.create(settings, store)
        runner = asyncio.create_task(service.run(), name="e2e-cti")
        try:
            async with asyncio.timeout(WAIT):
                await service.wait_http_started()
            await wait_for(lambda: service.engine.stats.snapshots >= 1, "the first resync")
            assert service.ari is not None
            ari = service.ari.stream.stats
            await wait_for(lambda: ari.connects >= 1, "the ARI event stream")
            yield Stack(service, fake, store, f"http://127.0.0.1:{service.http_port}")
        finally:
            await stop(service, runner)


async def stop(service: CtiService, runner: asyncio.Task[None]) -> None:
    """Let uvicorn shut down cleanly (lifespan included), then stop the rest."""
    service.server.should_exit = True
    http = [t for t in asyncio.all_tasks() if t.get_name() == "cti-http"]
    with contextlib.suppress(AssertionError):
        await wait_for(lambda: all(t.done() for t in http), "uvicorn to exit")
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(runner, WAIT)


async def test_a_stop_cancelled_midway_still_runs_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_stack(tmp_path) as running:
        service = running.service
        closing = service.client.close

        async def slow_close() -> None:  # closing the AMI connection takes a while
            await asyncio.sleep(0.3)
            await closing()

        monkeypatch.setattr(service.client, "close", slow_close)
    # stop() cancelled the service as soon as uvicorn was out, while it was
    # closing the AMI client: the shutdown carried on to the end regardless
    assert service.ari is not None
    assert service.ari.rest.is_closed  # no connection of it left open
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("cti-")] == []


async def login(http: httpx.AsyncClient, user: str, password: str = "demo") -> str:
    response = await http.post("/api/login", json={"login": user, "password": password})
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    assert isinstance(token, str)
    return token


async def recv(ws: ClientConnection, wait: float = WAIT) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), wait))
    assert isinstance(data, dict)
    return data


async def until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Every frame up to and including the first of type `kind`."""
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != kind:
        frames.append(await recv(ws))
    return frames


async def test_alice_alone_gets_the_pop_with_the_customer_and_the_call_is_stored(
    stack: Stack,
) -> None:
    await alice_alone_gets_the_pop_with_the_customer_and_the_call_is_stored(stack)


async def alice_alone_gets_the_pop_with_the_customer_and_the_call_is_stored(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        alice_token = await login(http, "alice")
        bob_token = await login(http, "bob")
    async with (
        connect(f"{stack.ws}?token={alice_token}", open_timeout=WAIT, close_timeout=1) as alice,
        connect(f"{stack.ws}?token={bob_token}", open_timeout=WAIT, close_timeout=1) as bob,
    ):
        assert (await recv(alice))["type"] == "hello"
        assert (await recv(bob))["type"] == "hello"
        call_id = stack.fake.place_call(GRACE)
        sent = await stack.fake.step(10_000)
        assert len(sent) > 50

        frames = await until(alice, "call_ended")
        # The whole call is sent at once here, faster than a database look-up:
        # the pop does not wait for it, and the customer follows on its own
        # (`call_customer`). With a real IVR the look-up is done before the pop.
        late_customer = [f for f in frames if f["type"] == "call_customer"]
        # an agent also receives their own work state (ringing, on_call, ...)
        own_states = [f for f in frames if f["type"] == "agent_state"]
        assert own_states
        assert {f["interface"] for f in own_states} == {"PJSIP/1001"}
        call_frames = [f for f in frames if f["type"] not in ("call_customer", "agent_state")]
        kinds = [f["type"] for f in call_frames]
        assert kinds == ["screen_pop", "call_answered", "call_ended"], kinds
        pop, answered, ended = call_frames
        seqs = [f["seq"] for f in frames]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(frames)

        assert pop["call_id"] == call_id
        assert pop["interface"] == ALICE
        assert pop["caller_number"] == "15551230001"
        assert pop["dialed_number"] == "18005550100"
        assert pop["queue"] == "support"
        assert pop["account"] == "23456"
        steps = {s["step"]: s["values"] for s in pop["ivr_path"]}
        assert steps["menu"] == {"Choice": "1"}
        assert steps["account"] == {"Account": "23456"}
        assert pop["variables"]["CTI_ACCOUNT"] == "23456"
        if pop["customer_pending"]:
            assert pop["customer"] is None
            if not late_customer:
                late_customer = [await recv(alice)]
            assert [f["type"] for f in late_customer] == ["call_customer"]
            assert late_customer[0]["call_id"] == call_id
            customer = late_customer[0]["customer"]
        else:
            assert late_customer == []
            customer = pop["customer"]
        assert customer is not None, "no customer record for the pop"
        assert customer["name"] == "Grace Hopper"
        assert customer["account"] == "23456"
        assert "15551230001" in customer["phones"]

        assert answered["call_id"] == call_id
        assert answered["interface"] == ALICE
        assert ended["call_id"] == call_id
        assert ended["outcome"] == "answered"
        assert ended["answered_by"] == ALICE

        # Bob's stream got nothing: Alice's frames were all published before
        # her call_ended, and the hub publishes synchronously.
        with pytest.raises(TimeoutError):
            await recv(bob, 0.2)
        assert stack.service.hub.position("bob") == 0

    await asyncio.wait_for(stack.service.engine.flush_records(), WAIT)
    records = await stack.store.recent_call_records()
    assert [r.call_id for r in records] == [call_id]
    (record,) = records
    assert record.outcome == "answered"
    assert record.answered_by == ALICE
    assert record.queue == "support"
    assert record.account == "23456"
    assert record.caller_number == "15551230001"
    assert record.customer_id == 1  # Grace Hopper in the demo data
    assert not record.ended_by_resync


async def closed_with(url: str) -> tuple[int, str]:
    async with connect(url, open_timeout=WAIT, close_timeout=1) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def test_missing_bad_or_expired_tokens_are_refused(stack: Stack) -> None:
    user = await AccountDirectory(stack.store).get_user("alice")
    assert user is not None
    expired = TokenAuth(AccountDirectory(stack.store), stack.service.settings).issue(
        user, now=1_000_000.0
    )
    assert await closed_with(stack.ws) == (4401, "missing token")
    assert await closed_with(f"{stack.ws}?token=not-a-jwt") == (4401, "invalid token")
    assert await closed_with(f"{stack.ws}?token={expired.token}") == (4401, "token expired")
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        wrong = await http.post("/api/login", json={"login": "alice", "password": "nope"})
        assert wrong.status_code == 401
        assert (await http.get("/api/calls")).status_code == 401
        headers = {"Authorization": f"Bearer {expired.token}"}
        assert (await http.get("/api/calls", headers=headers)).status_code == 401


async def test_rest_snapshot_shows_the_live_call_to_alice_only(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        alice = {"Authorization": f"Bearer {await login(http, 'alice')}"}
        bob = {"Authorization": f"Bearer {await login(http, 'bob')}"}
        call_id = stack.fake.place_call(GRACE)
        service = stack.service

        def answered() -> bool:
            return any(c.answered_at is not None for c in service.model.calls())

        # one frame at a time, up to Alice answering
        while not answered():
            assert await stack.fake.step(1), "the call ended before Alice answered"
            await wait_for(
                lambda: (
                    service.client.stream.empty()
                    and service.engine.stats.events == service.client.stats.events
                ),
                "the engine to apply the frame",
            )
        calls = (await http.get("/api/calls", headers=alice)).json()
        assert [c["call_id"] for c in calls] == [call_id]
        assert calls[0]["agent"] == ALICE
        assert calls[0]["queue"] == "support"
        assert (await http.get("/api/calls", headers=bob)).json() == []


async def test_the_service_stops_when_uvicorn_exits(stack: Stack) -> None:
    """cti/app.py: "uvicorn returns on SIGINT/SIGTERM: stop the other tasks with it".

    `_serve_http` raises CancelledError inside the TaskGroup, but a TaskGroup
    ignores a child that ends cancelled: it does not cancel the siblings, so
    the AMI client and the engine keep running and `run()` never returns.
    (Under a real signal uvicorn re-raises it afterwards, which hides this.)
    """
    runner = next(t for t in asyncio.all_tasks() if t.get_name() == "e2e-cti")
    stack.service.server.should_exit = True
    done, _ = await asyncio.wait({runner}, timeout=2.0)
    assert runner in done, "CtiService.run() still running after uvicorn exited"
    assert not stack.service.client.connected


async def test_the_data_dip_finds_the_caller_and_alices_pop_shows_them(stack: Stack) -> None:
    """cti-ivr over the fake Asterisk's ARI: StasisStart -> look-up -> set
    CTI_CUSTOMER_ID -> continue; the dialplan queues the call to Alice."""
    assert stack.service.ari is not None
    ivr = stack.service.ari.ivr
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        token = await login(http, "alice")
    async with connect(f"{stack.ws}?token={token}", open_timeout=WAIT, close_timeout=1) as alice:
        assert (await recv(alice))["type"] == "hello"
        call_id = stack.fake.place_call(ADA_DIP)
        await stack.fake.step(10_000)  # up to Stasis(cti-ivr,lookup): the call waits there
        await wait_for(lambda: ivr.stats.found == 1, "the data dip")
        await ivr.drain()  # the variables are set and the call continued
        await stack.fake.step(10_000)
        frames = await until(alice, "call_ended")
    (pop,) = [f for f in frames if f["type"] == "screen_pop"]
    assert pop["call_id"] == call_id
    assert pop["interface"] == ALICE
    assert pop["customer_id"] == 42
    assert pop["variables"]["CTI_CUSTOMER_ID"] == "42"
    assert pop["variables"]["CTI_CUSTOMER_NAME"] == "Ada Lovelace"
    late = [f["customer"] for f in frames if f["type"] == "call_customer"]
    customer = pop["customer"] if not pop["customer_pending"] else late[0]
    assert customer["id"] == 42
    assert customer["name"] == "Ada Lovelace"
    assert ivr.stats.timeouts == ivr.stats.continue_errors == 0


async def test_a_caller_is_not_held_when_the_database_is_down(stack: Stack) -> None:
    assert stack.service.ari is not None
    ivr = stack.service.ari.ivr

    async def down(key: object) -> dict[str, Any] | None:
        raise ConnectionError("database down")

    ivr._lookup = down  # the store's engine would need stopping; this is the same failure
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        token = await login(http, "alice")
    async with connect(f"{stack.ws}?token={token}", open_timeout=WAIT, close_timeout=1) as alice:
        assert (await recv(alice))["type"] == "hello"
        stack.fake.place_call(ADA_DIP)
        await stack.fake.step(10_000)
        await wait_for(lambda: ivr.stats.lookup_errors == 1, "the failed data dip")
        await ivr.drain()
        await stack.fake.step(10_000)
        frames = await until(alice, "call_ended")
    (pop,) = [f for f in frames if f["type"] == "screen_pop"]
    assert pop["customer_id"] is None
    assert "CTI_CUSTOMER_ID" not in pop["variables"]
    ended = frames[-1]
    assert ended["outcome"] == "answered"
