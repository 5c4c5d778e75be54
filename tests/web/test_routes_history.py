"""Call history over REST, on a real store (SQLite) filled by replaying recorded
traces: who sees which calls, filters, dispositions (live and recorded), the
CSV export parsed back, per-agent daily stats checked against values computed
here from the replayed outputs, and bad input answered 422 naming the field."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from access_policy import ACCESS
from fastapi import FastAPI
from history_tools import DAY0, agent_states, call_records
from web_fakes import SETTINGS, FakeState, FakeUsers, serve
from websockets.asyncio.client import connect

from cti.history import HistoryService
from cti.history.service import LiveCall
from cti.ids import CallId
from cti.model.outputs import AgentStateChanged, CallEnded
from cti.store import Store
from cti.web.app import create_app
from cti.web.auth import TokenAuth
from cti.web.hub import Hub
from cti.web.ports import User

ALICE = User("alice", "Alice Agent", "agent", "PJSIP/1001")
BOB = User("bob", "Bob Agent", "agent", "PJSIP/1002")
CAROL = User("carol", "Carol Supervisor", "supervisor", "PJSIP/1003", ("support",))
DAVE = User("dave", "Dave Supervisor", "supervisor", None, ("billing",))
# a team lead: Bob's team, no queues (TEAMS fills team_interfaces from the store)
TESS = User("tess", "Tess Lead", "supervisor", None, (), ("blue",), ("PJSIP/1002",))
ADA = User("ada", "Ada Admin", "admin", None)
USERS = FakeUsers(users={u.login: u for u in (ALICE, BOB, CAROL, DAVE, ADA, TESS)})
AUTH = TokenAuth(USERS, SETTINGS)
CODES = ("resolved", "callback", "escalated", "no_action", "wrong_number")
DAY = "2025-11-28"  # DAY0 is 2025-11-28T12:00Z
DAY_END = datetime(2025, 11, 29, tzinfo=UTC)
LIVE = "live.1"  # a call still up: Alice is on it, queued to support


@dataclass(slots=True)
class Rig:
    http: httpx.AsyncClient
    store: Store
    ringnoanswer: CallEnded
    internal: CallEnded
    states: list[AgentStateChanged]
    app: FastAPI

    async def get(self, user: User, url: str, **params: Any) -> httpx.Response:
        return await self.http.get(url, params=params, headers=_auth(user))

    async def put_disposition(self, user: User, call_id: str, body: Any) -> httpx.Response:
        return await self.http.put(
            f"/api/calls/{call_id}/disposition", json=body, headers=_auth(user)
        )


def _auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {AUTH.issue(user).token}"}


def _fields(response: httpx.Response) -> list[str]:
    """The fields a 422 names: ours (error.fields) or FastAPI's own (detail[].loc)."""
    body = response.json()
    if "error" in body:
        return list(body["error"]["fields"])
    return [str(d["loc"][-1]) for d in body["detail"]]


def _live(call_id: str) -> LiveCall | None:
    return LiveCall("support", ("PJSIP/1001",)) if call_id == LIVE else None


def _member_queues(interface: str) -> tuple[str, ...]:
    return ("support",) if interface in ("PJSIP/1001", "PJSIP/1002") else ()


@pytest.fixture
async def rig(tmp_path: Any) -> AsyncIterator[Rig]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path}/cti.sqlite3")
    await store.start()
    try:
        for user in (ALICE, BOB, CAROL):
            await store.create_agent(user.login, user.display_name, "pw", user.role, user.interface)
        (ringnoanswer,) = call_records("queue_ringnoanswer", DAY0)
        (internal,) = call_records("internal_call", DAY0 + 3600)
        await store.save_call_records([(ringnoanswer, None), (internal, None)])
        states = agent_states("queue_ringnoanswer", DAY0)
        await store.save_agent_states(states)
        service = HistoryService(
            store, CODES, live_call=_live, member_queues=_member_queues, clock=lambda: DAY_END
        )
        app = create_app(
            users=USERS, state=FakeState(), hub=Hub(), settings=SETTINGS, history=service
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cti") as http:
            yield Rig(http, store, ringnoanswer, internal, states, app)
    finally:
        await store.close()


async def _ids(rig: Rig, user: User, **params: Any) -> list[str]:
    response = await rig.get(user, "/api/history", **params)
    assert response.status_code == 200, response.text
    return [c["call_id"] for c in response.json()["calls"]]


async def test_who_sees_which_calls(rig: Rig) -> None:
    queue_call, internal = rig.ringnoanswer.call_id, rig.internal.call_id
    both = [internal, queue_call]  # newest first
    assert await _ids(rig, ALICE) == both  # rung twice for one, caller of the other
    assert await _ids(rig, BOB) == both
    assert await _ids(rig, CAROL) == [queue_call]  # her queue; not involved in the other
    assert await _ids(rig, DAVE) == []
    assert await _ids(rig, TESS) == both  # Bob's team: both calls Bob answered
    assert await _ids(rig, ADA) == both
    assert (await rig.get(DAVE, f"/api/history/{queue_call}")).status_code == 403
    assert (await rig.get(ALICE, "/api/history/nope.1")).status_code == 404
    assert (await rig.http.get("/api/history")).status_code == 401


async def test_the_ring_no_answer_call_reads_back_with_its_rings(rig: Rig) -> None:
    response = await rig.get(CAROL, f"/api/history/{rig.ringnoanswer.call_id}")
    assert response.status_code == 200
    call = response.json()
    rings = [(r["interface"], r["result"]) for r in call["ring_attempts"]]
    assert rings == [
        ("PJSIP/1001", "no_answer"),
        ("PJSIP/1001", "no_answer"),
        ("PJSIP/1002", "answered"),
    ]
    assert call["agent"] == "PJSIP/1002"
    assert [leg["role"] for leg in call["legs"]] == ["caller", "agent", "agent", "agent"]
    assert call["queue"] == "support"
    assert call["started_at"].startswith(DAY)


async def test_filters(rig: Rig) -> None:
    queue_call, internal = rig.ringnoanswer.call_id, rig.internal.call_id
    assert await _ids(rig, ADA, number="555123") == [queue_call]
    assert await _ids(rig, ADA, number="1002") == [internal]  # the dialed number
    assert await _ids(rig, ADA, agent="bob") == [internal, queue_call]
    assert await _ids(rig, ADA, agent="PJSIP/1001") == [internal, queue_call]
    assert await _ids(rig, ADA, queue="support") == [queue_call]
    assert await _ids(rig, ADA, outcome="answered", limit=1) == [internal]
    assert await _ids(rig, ADA, outcome="answered", limit=1, offset=1) == [queue_call]
    at_noon = {"from": "2025-11-28T12:00:00Z", "to": "2025-11-28T12:30:00+00:00"}
    assert await _ids(rig, ADA, **at_noon) == [queue_call]
    assert await _ids(rig, ADA, **{"from": DAY, "to": "2025-11-29"}) == [internal, queue_call]
    assert await _ids(rig, ADA, **{"from": "2025-11-29"}) == []
    # an agent's filters narrow their own scope, never widen it
    assert await _ids(rig, CAROL, agent="alice") == [queue_call]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "28/11/2025"}, "from"),
        ({"to": "2025-11-28T12:00:00"}, "to"),  # no offset
        ({"from": "2025-11-29", "to": "2025-11-28"}, "to"),
        ({"agent": "nobody"}, "agent"),
        ({"limit": "5000"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
async def test_bad_search_is_422_naming_the_field(
    rig: Rig, params: dict[str, str], field: str
) -> None:
    for url in ("/api/history", "/api/history.csv"):
        if url.endswith(".csv") and field in ("limit", "offset"):
            continue
        response = await rig.get(ADA, url, **params)
        assert response.status_code == 422, response.text
        assert _fields(response) == [field]


async def test_disposition_on_a_recorded_call(rig: Rig) -> None:
    call_id = rig.ringnoanswer.call_id
    saved = await rig.put_disposition(BOB, call_id, {"code": "resolved", "notes": "fixed it"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["set_by"] == "bob"
    # Alice was only rung for it, and may note it too; the last one set wins
    again = await rig.put_disposition(ALICE, call_id, {"code": "callback", "notes": ""})
    assert again.status_code == 200
    assert (await rig.put_disposition(DAVE, call_id, {"code": "resolved"})).status_code == 403
    assert (await rig.put_disposition(CAROL, call_id, {"code": "escalated"})).status_code == 200
    entry = (await rig.get(ADA, f"/api/history/{call_id}")).json()
    assert (entry["disposition"]["code"], entry["disposition"]["set_by"]) == ("escalated", "carol")
    # Carol is neither involved in nor supervising the internal call
    internal = rig.internal.call_id
    assert (await rig.put_disposition(CAROL, internal, {"code": "resolved"})).status_code == 403
    assert (await rig.put_disposition(ALICE, "nope.1", {"code": "resolved"})).status_code == 404


async def test_disposition_during_the_call_is_kept_for_its_record(rig: Rig) -> None:
    assert (await rig.put_disposition(BOB, LIVE, {"code": "callback"})).status_code == 403
    saved = await rig.put_disposition(ALICE, LIVE, {"code": "callback", "notes": "at 5pm"})
    assert saved.status_code == 200, saved.text
    assert (await rig.get(ALICE, f"/api/history/{LIVE}")).status_code == 404  # not ended yet
    ended = call_records("queue_answered", DAY0 + 7200)[0]
    await rig.store.save_call_records([(replace(ended, call_id=CallId(LIVE)), None)])
    entry = (await rig.get(ALICE, f"/api/history/{LIVE}")).json()
    assert entry["disposition"]["code"] == "callback"
    assert entry["disposition"]["notes"] == "at 5pm"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "sold_a_car"}, "code"),
        ({"code": "resolved", "notes": "x" * 2001}, "notes"),
        ({"notes": "no code"}, "code"),
        ({"code": "resolved", "extra": 1}, "extra"),
    ],
)
async def test_bad_disposition_is_422_naming_the_field(
    rig: Rig, body: dict[str, Any], field: str
) -> None:
    call_id = rig.ringnoanswer.call_id
    response = await rig.put_disposition(BOB, call_id, body)
    assert response.status_code == 422, response.text
    assert _fields(response) == [field]
    assert await rig.store.call_disposition(call_id) is None  # nothing half-saved


async def test_notes_at_the_limit_are_kept_whole(rig: Rig) -> None:
    notes = "é" * 2000
    call_id = rig.ringnoanswer.call_id
    assert (
        await rig.put_disposition(BOB, call_id, {"code": "resolved", "notes": notes})
    ).status_code == 200
    found = await rig.store.call_disposition(call_id)
    assert found is not None
    assert found.notes == notes


async def test_csv_export_parses_back_to_the_same_calls(rig: Rig) -> None:
    await rig.put_disposition(
        BOB, rig.ringnoanswer.call_id, {"code": "resolved", "notes": "=cmd|' /C calc'!A0"}
    )
    response = await rig.get(ALICE, "/api/history.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    listed = (await rig.get(ALICE, "/api/history")).json()["calls"]
    assert [r["call_id"] for r in rows] == [c["call_id"] for c in listed]
    by_id = {r["call_id"]: r for r in rows}
    queued = by_id[rig.ringnoanswer.call_id]
    assert (
        queued["ring_attempts"] == "PJSIP/1001:no_answer PJSIP/1001:no_answer PJSIP/1002:answered"
    )
    assert queued["ring_no_answers"] == "2"
    assert queued["notes"] == "'=cmd|' /C calc'!A0"  # CSV injection defused
    assert float(queued["talk_seconds"]) == rig.ringnoanswer.talk_seconds
    assert queued["caller_number"] == "15551230001"
    # Carol's export is her scope only; an empty export is just the header
    carol = list(csv.DictReader(io.StringIO((await rig.get(CAROL, "/api/history.csv")).text)))
    assert [r["call_id"] for r in carol] == [rig.ringnoanswer.call_id]
    empty = await rig.get(DAVE, "/api/history.csv")
    assert empty.status_code == 200
    assert list(csv.reader(io.StringIO(empty.text)))[1:] == []


def _expected_states(changes: list[AgentStateChanged], interface: str) -> dict[str, float]:
    """Time in state for one agent, from the model's outputs, the last state
    running to the day's end (the service's clock)."""
    spells: list[tuple[str, float]] = []
    for change in changes:
        if change.interface != interface:
            continue
        if spells and spells[-1] == (change.state, change.since):
            continue  # the same spell announced again
        spells.append((change.state, change.since))
    totals: dict[str, float] = {}
    for (state, since), nxt in zip(spells, [*spells[1:], ("", DAY_END.timestamp())], strict=True):
        totals[state] = totals.get(state, 0.0) + nxt[1] - since
    return totals


async def test_daily_stats_of_an_agent(rig: Rig) -> None:
    response = await rig.get(BOB, "/api/agents/me/daily", date=DAY)
    assert response.status_code == 200, response.text
    bob = response.json()
    # Bob answered the queue call and Alice's internal call: talk is what the
    # records say from answer to hang-up (to the millisecond the legs differ)
    assert bob["calls_handled"] == 2
    assert rig.ringnoanswer.talk_seconds is not None
    assert rig.internal.talk_seconds is not None
    talk = rig.ringnoanswer.talk_seconds + rig.internal.talk_seconds
    assert bob["talk_seconds"] == pytest.approx(talk, abs=0.01)
    assert bob["average_handle_seconds"] == pytest.approx(talk / 2, abs=0.01)
    assert bob["ring_no_answers"] == 0
    for state, seconds in _expected_states(rig.states, "PJSIP/1002").items():
        assert bob["state_seconds"][state] == pytest.approx(seconds, abs=0.002), state
    assert set(bob["paused_seconds_by_reason"]) == {"break"}
    alice = (await rig.get(CAROL, "/api/agents/alice/daily", date=DAY)).json()
    assert (alice["calls_handled"], alice["ring_no_answers"]) == (0, 2)
    for state, seconds in _expected_states(rig.states, "PJSIP/1001").items():
        assert alice["state_seconds"][state] == pytest.approx(seconds, abs=0.002), state
    other_day = (await rig.get(ADA, "/api/agents/alice/daily", date="2025-11-27")).json()
    assert (other_day["calls"], other_day["state_seconds"]) == (0, {})


async def test_daily_stats_access_and_bad_dates(rig: Rig) -> None:
    assert (await rig.get(BOB, "/api/agents/alice/daily", date=DAY)).status_code == 403
    assert (await rig.get(DAVE, "/api/agents/alice/daily", date=DAY)).status_code == 403
    assert (await rig.get(TESS, "/api/agents/bob/daily", date=DAY)).status_code == 200
    assert (await rig.get(TESS, "/api/agents/carol/daily", date=DAY)).status_code == 403
    assert (await rig.get(ADA, "/api/agents/alice/daily", date=DAY)).status_code == 200
    assert (await rig.get(ADA, "/api/agents/nobody/daily", date=DAY)).status_code == 404
    for bad in ("2025-13-01", "28-11-2025", "2025-11-28T00:00Z", "yesterday"):
        response = await rig.get(ALICE, "/api/agents/me/daily", date=bad)
        assert response.status_code == 422, bad
        assert _fields(response) == ["date"]
    tomorrow = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    assert (await rig.get(ALICE, "/api/agents/me/daily", date=tomorrow)).status_code == 422


async def test_without_history_the_routes_answer_503() -> None:
    app = create_app(users=USERS, state=FakeState(), hub=Hub(), settings=SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cti") as http:
        response = await http.get("/api/history", headers=_auth(ADA))
        assert response.status_code == 503
        codes = await http.get("/api/history/dispositions", headers=_auth(ALICE))
        assert codes.json() == {"codes": []}


async def _ws_command(base: str, user: User, command: dict[str, Any]) -> dict[str, Any]:
    token = AUTH.issue(user).token
    async with connect(f"{base}/ws?token={token}", open_timeout=5) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        await ws.send(json.dumps({"type": "command", "id": "d1", **command}))
        async with asyncio.timeout(5):
            while True:
                frame: dict[str, Any] = json.loads(await ws.recv())
                if frame["type"] == "command_result":
                    return frame


async def test_disposition_over_the_websocket(rig: Rig) -> None:
    call_id = rig.ringnoanswer.call_id
    command = {"command": "set_disposition", "call_id": call_id, "code": "callback"}
    async with serve(rig.app) as base:
        done = await _ws_command(base, BOB, {**command, "notes": "tomorrow"})
        assert (done["id"], done["ok"], done["call_id"]) == ("d1", True, call_id), done
        refused = await _ws_command(base, DAVE, command)
        assert (refused["ok"], refused["error"]["code"]) == (False, "not_allowed")
        bad = await _ws_command(base, BOB, {**command, "code": "nope"})
        assert (bad["error"]["code"], bad["error"]["fields"]) == ("invalid", ["code"])
        missing = await _ws_command(base, BOB, {"command": "set_disposition", "code": "resolved"})
        assert missing["error"]["fields"] == ["call_id"]
    found = await rig.store.call_disposition(call_id)
    assert found is not None
    assert (found.code, found.notes, found.set_by) == ("callback", "tomorrow", "bob")


def test_every_history_route_has_an_access_policy_row(rig: Rig) -> None:
    paths: dict[str, dict[str, Any]] = rig.app.openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "call history" in operation.get("tags", ())
    }
    assert len(routes) == 6
    assert routes <= set(ACCESS)
