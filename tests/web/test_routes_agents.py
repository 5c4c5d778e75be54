"""Agent states end to end: REST and WebSocket -> AgentControl -> AmiClient -> fake
Asterisk, whose QueueMember* events come back through the engine into the model.

The rig is the real path: a `FakeAsterisk` (lab queues: Alice static in
support, Bob static in support and sales), a real `AmiClient` (with its resync,
so the model knows the members), the `Engine` feeding the `Model`, and the web
app over `AgentControl`. A test waits for the model to show what Asterisk
reported, so each one proves the action reached Asterisk and came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from control_tools import HOUSEKEEPING
from fastapi.routing import APIRoute
from web_fakes import SETTINGS, FakeUsers, serve
from websockets.asyncio.client import connect

from cti.agentstate import AgentControl, AgentTarget
from cti.ami.client import AmiClient
from cti.engine import Engine
from cti.ids import Interface
from cti.model.model import Model
from cti.model.outputs import SetMemberPause
from cti.sim import FakeAsterisk
from cti.web.adapters import ModelStateView
from cti.web.app import create_app
from cti.web.auth import TokenAuth
from cti.web.hub import Hub
from cti.web.ports import User
from cti.web.routes_agents import AgentControlAdapter

ALICE = User("alice", "Alice Agent", "agent", "PJSIP/1001")
BOB = User("bob", "Bob Agent", "agent", "PJSIP/1002")
CAROL = User("carol", "Carol Supervisor", "supervisor", "PJSIP/1003", ("support", "sales"))
DAVE = User("dave", "Dave Supervisor", "supervisor", None, ("billing",))
ADA = User("ada", "Ada Admin", "admin", None)
USERS = FakeUsers(users={u.login: u for u in (ALICE, BOB, CAROL, DAVE, ADA)})
AUTH = TokenAuth(USERS, SETTINGS)
WAIT = 5.0


@dataclass(slots=True)
class Rig:
    fake: FakeAsterisk
    model: Model
    engine: Engine
    control: AgentControl
    http: httpx.AsyncClient
    app: Any

    def actions(self) -> list[tuple[str, dict[str, str]]]:
        skip = {"Action", "ActionID"}
        return [
            (a, {k: v for k, v in p if k not in skip})
            for a, p in self.fake.actions
            if a not in HOUSEKEEPING
        ]

    async def until(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not check():  # noqa: ASYNC110 (the model has no change event)
                await asyncio.sleep(0.01)

    def state(self, interface: str) -> tuple[str, str | None, tuple[str, ...]]:
        view = self.model.agent(interface)
        assert view is not None
        return view.state, view.reason, view.queues


@contextlib.asynccontextmanager
async def rig_with(wrapup: dict[str, float] | None = None) -> AsyncIterator[Rig]:
    fake = FakeAsterisk()
    await fake.start()
    client = AmiClient("127.0.0.1", fake.port, "cti", "cti-secret", ping_interval=0)
    model = Model(["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"], wrapup=wrapup)
    engine = Engine(model=model, publisher=Hub(), tick_interval=0.05)

    async def find(login: str) -> AgentTarget | None:
        user = await USERS.get_user(login)
        return AgentTarget(user.login, user.display_name, user.interface) if user else None

    async def ended(interface: str) -> None:
        await engine.apply_now(lambda m, at: m.end_wrap_up(interface, at, unpause=False))

    control = AgentControl(
        client,
        model,
        find,
        action_timeout=1.0,
        pause_reasons=SETTINGS.pause_reasons,
        wrap_up_ended=ended,
    )
    engine.effects = control.pause_effect
    app = create_app(
        users=USERS,
        state=ModelStateView(model),
        hub=Hub(),
        settings=SETTINGS,
        agent_control=AgentControlAdapter(control, wrapup or {}),
    )
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(engine.run(client.stream))]
    transport = httpx.ASGITransport(app=app)
    try:
        await client.wait_connected(timeout=WAIT)
        async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as http:
            rig = Rig(fake, model, engine, control, http, app)
            await rig.until(lambda: model.agent("PJSIP/1001") is not None)
            yield rig
    finally:
        await control.drain()
        await client.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await fake.stop()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with rig_with() as r:
        yield r


def auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {AUTH.issue(user).token}"}


async def test_supervisor_pauses_an_agent_remotely_and_unpauses_them(rig: Rig) -> None:
    r = await rig.http.post("/api/agents/bob/pause", json={"reason": "break"}, headers=auth(CAROL))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "ok": True,
        "command": "agent_pause",
        "agent": "bob",
        "sent": 1,
        "message": "Interface paused successfully",
    }
    assert rig.actions()[-1] == (
        "queuepause",
        {"Interface": "PJSIP/1002", "Paused": "true", "Reason": "break"},
    )
    await rig.until(lambda: rig.state("PJSIP/1002")[:2] == ("paused", "break"))
    agents = await rig.http.get("/api/agents", headers=auth(CAROL))
    bob = next(a for a in agents.json() if a["interface"] == "PJSIP/1002")
    assert bob["state"] == "paused"
    assert bob["reason"] == "break"
    assert bob["since"] is not None
    r = await rig.http.post("/api/agents/bob/unpause", headers=auth(CAROL))
    assert r.status_code == 200
    await rig.until(lambda: rig.state("PJSIP/1002")[:2] == ("available", None))


async def test_agent_may_not_pause_another_agent_and_nothing_is_sent(rig: Rig) -> None:
    before = rig.actions()
    r = await rig.http.post("/api/agents/bob/pause", json={"reason": "break"}, headers=auth(ALICE))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_allowed"
    # a supervisor of other queues may not either
    r = await rig.http.post("/api/agents/bob/pause", json={"reason": "break"}, headers=auth(DAVE))
    assert r.status_code == 403
    await asyncio.sleep(0.05)
    assert rig.actions() == before


async def test_pause_reason_outside_the_list_is_422(rig: Rig) -> None:
    before = rig.actions()
    r = await rig.http.post("/api/agents/me/pause", json={"reason": "nap"}, headers=auth(ALICE))
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid",
        "message": "reason must be one of: break, lunch, training, meeting",
        "fields": ["reason"],
    }
    r = await rig.http.post(
        "/api/agents/me/pause", json={"reason": "x\r\nAction: Logoff"}, headers=auth(ALICE)
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == ["reason"]
    reasons = await rig.http.get("/api/agents/pause-reasons", headers=auth(ALICE))
    assert reasons.json()["reasons"] == ["break", "lunch", "training", "meeting"]
    await asyncio.sleep(0.05)
    assert rig.actions() == before


async def test_agent_logs_in_and_a_supervisor_logs_them_out_remotely(rig: Rig) -> None:
    r = await rig.http.post("/api/agents/me/login", json={"queues": ["sales"]}, headers=auth(ALICE))
    assert r.status_code == 200, r.text
    assert rig.actions()[-1] == (
        "queueadd",
        {
            "Queue": "sales",
            "Interface": "PJSIP/1001",
            "MemberName": "Alice Agent",
            "StateInterface": "PJSIP/1001",
        },
    )
    await rig.until(lambda: set(rig.state("PJSIP/1001")[2]) == {"support", "sales"})
    r = await rig.http.post(
        "/api/agents/alice/logout", json={"queues": ["sales"]}, headers=auth(CAROL)
    )
    assert r.status_code == 200, r.text
    await rig.until(lambda: rig.state("PJSIP/1001")[2] == ("support",))
    # Asterisk refuses to remove a static member: its message comes back as 502
    r = await rig.http.post(
        "/api/agents/alice/logout", json={"queues": ["support"]}, headers=auth(ADA)
    )
    assert r.status_code in (200, 502)
    unknown = await rig.http.post(
        "/api/agents/zed/logout", json={"queues": ["support"]}, headers=auth(ADA)
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


async def wrap_up_pause(rig: Rig) -> None:
    """A wrap-up pause exactly as the CTI sends it when a support call ends."""
    rig.control.pause_effect(SetMemberPause(Interface("PJSIP/1001"), True, "wrap-up", 0.0))
    await rig.control.drain()


async def test_wrap_up_timer_unpauses_in_asterisk_and_the_agent_can_end_it_early() -> None:
    async with rig_with({"support": 0.3}) as rig:
        await wrap_up_pause(rig)
        await rig.until(lambda: rig.state("PJSIP/1001")[0] == "wrap_up")
        # the engine's tick ends it: QueuePause Paused=false reaches Asterisk
        await rig.until(lambda: rig.state("PJSIP/1001")[0] == "available")
        assert rig.actions()[-1] == ("queuepause", {"Interface": "PJSIP/1001", "Paused": "false"})

    async with rig_with({"support": 60}) as rig, serve(rig.app) as base:
        await wrap_up_pause(rig)
        await rig.until(lambda: rig.state("PJSIP/1001")[0] == "wrap_up")
        token = AUTH.issue(ALICE).token
        async with connect(f"{base}/ws?token={token}", open_timeout=WAIT) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            await ws.send(json.dumps({"type": "command", "id": "w1", "command": "end_wrap_up"}))
            async with asyncio.timeout(WAIT):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "command_result":
                        break
            assert (frame["ok"], frame["agent"]) == (True, "alice"), frame
        await rig.until(lambda: rig.state("PJSIP/1001")[0] == "available")
        again = await rig.http.post("/api/agents/me/wrap-up/end", headers=auth(ALICE))
        assert again.status_code == 422  # not in wrap-up any more


# -- the access policy rows of these routes, checked against the live rig ----------

AGENT_COMMAND_ROUTES = [
    ("/api/agents/{login}/pause", {"reason": "break"}),
    ("/api/agents/{login}/unpause", None),
    ("/api/agents/{login}/wrap-up/end", None),
    ("/api/agents/{login}/login", {"queues": ["sales"]}),
    ("/api/agents/{login}/logout", {"queues": ["support"]}),
]


def test_every_agent_route_has_a_policy_row(rig_app_routes: set[tuple[str, str]]) -> None:
    from access_policy import ACCESS

    assert rig_app_routes <= set(ACCESS)


@pytest.fixture
def rig_app_routes() -> set[tuple[str, str]]:
    app = create_app(users=USERS, state=ModelStateView(Model()), hub=Hub(), settings=SETTINGS)
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/api/agents/")
        for method in route.methods or ()
    }


@pytest.mark.parametrize(("path", "body"), AGENT_COMMAND_ROUTES)
async def test_who_may_act_on_whom(rig: Rig, path: str, body: dict[str, Any] | None) -> None:
    async def call(user: User | None, login: str) -> httpx.Response:
        headers = auth(user) if user is not None else {}
        return await rig.http.post(path.format(login=login), json=body, headers=headers)

    before = rig.actions()
    assert (await call(None, "alice")).status_code == 401
    assert (await call(BOB, "alice")).status_code == 403  # an agent, on another agent
    # a supervisor of other queues, on an agent of support
    assert (await call(DAVE, "alice")).status_code == 403
    await asyncio.sleep(0.05)
    assert rig.actions() == before  # refused before anything reached Asterisk
    for user in (ALICE, CAROL, ADA):  # herself, her supervisor, an admin: allowed
        r = await call(user, "alice" if user is not ALICE else "me")
        assert r.status_code not in (401, 403), (user.login, r.text)
