"""The adapters over the real model (fed a recorded trace) and store-shaped records."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from trace_paths import TRACES
from web_fakes import SETTINGS

from cti.ids import AgentLogin, Interface
from cti.model.model import Model
from cti.model.outputs import ScreenPop
from cti.replay import Replayer, agent_interfaces, read_chunks
from cti.store.records import AgentRecord
from cti.web.adapters import AccountDirectory, ModelStateView
from cti.web.app import create_app
from cti.web.hub import Hub

TRACE = TRACES / "queue_answered.jsonl"


def model_at_first_pop() -> tuple[Model, ScreenPop]:
    runner = Replayer(Model(agent_interfaces(read_chunks(TRACE))))
    for at, data in read_chunks(TRACE):
        for out in runner.feed(data, at):
            if isinstance(out, ScreenPop):
                return runner.model, out
    raise AssertionError("no screen-pop in the trace")


class FakeStore:
    """Shaped like cti.store.Store for the two calls the directory makes."""

    def __init__(self) -> None:
        self.records = {
            "alice": AgentRecord(
                1,
                AgentLogin("alice"),
                "Alice",
                "agent",
                Interface("PJSIP/1001"),
                datetime(2025, 1, 1, tzinfo=UTC),
            ),
            "sue": AgentRecord(
                2, AgentLogin("sue"), "Sue", "supervisor", None, datetime(2025, 1, 1, tzinfo=UTC)
            ),
        }

    async def authenticate(self, login: str, password: str) -> AgentRecord | None:
        return self.records.get(login) if password == "pw" else None

    async def agent_by_login(self, login: str) -> AgentRecord | None:
        return self.records.get(login)


def test_model_views_become_schemas() -> None:
    model, pop = model_at_first_pop()
    view = ModelStateView(model, clock=lambda: pop.at)
    (call,) = view.calls()
    assert call.call_id == pop.call_id
    assert call.caller_number == "15551230001"
    assert call.queue == "support"
    assert call.agent == "PJSIP/1001"
    steps = {step.step: step.values for step in call.ivr_path}
    assert steps == {"welcome": {}, "menu": {"Choice": "1"}, "account": {"Account": "23456"}}
    assert call.variables["CTI_MENU"] == "1"
    assert call.account == "23456"
    queues = {q.name: q for q in view.queues()}
    assert "support" in queues
    agents = {a.interface: a for a in view.agents()}
    assert agents["PJSIP/1001"].state == "ringing"


async def test_app_over_model_and_store_shaped_directory() -> None:
    model, _ = model_at_first_pop()
    app = create_app(
        users=AccountDirectory(FakeStore()),
        state=ModelStateView(model),
        hub=Hub(),
        settings=SETTINGS,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as client:
        bad = await client.post("/api/login", json={"login": "alice", "password": "nope"})
        assert bad.status_code == 401
        r = await client.post("/api/login", json={"login": "alice", "password": "pw"})
        assert r.json()["user"]["interface"] == "PJSIP/1001"
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        calls = (await client.get("/api/calls", headers=headers)).json()
        assert [c["caller_number"] for c in calls] == ["15551230001"]
        r = await client.post("/api/login", json={"login": "sue", "password": "pw"})
        assert r.json()["user"]["role"] == "supervisor"
