"""Who may call every route of the real app, and what each role sees there.

The app is the real one (`CtiService.create`: real adapters, a seeded SQLite
store, the real hub, model, chat, metrics, history and controls; AMI is never
connected, so commands that pass authorization end in 503 not_connected). The
model holds the three answered calls of tests/control_tools.py: 100.1 on
`support` (Alice), 200.1 on `sales` and 300.1 on `billing` (both Bob).

Demo scopes (cti/store/seed.py): Carol supervises `support` and `sales` and
team tier1 (Alice, Bob); Dave supervises `billing` only; root is an admin.

`test_every_route_has_a_row` makes a new route without a row in
tests/web/access_policy.py fail; the matrix test then calls every route as
each role (+ no token, + an expired token) and checks 401/403 vs let through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from access_policy import ACCESS
from control_tools import BILLING_CALL, QUEUE_CALL, SALES_CALL, call_events
from fastapi import FastAPI
from web_fakes import serve
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cti.app import CtiService
from cti.config import Settings
from cti.model.outputs import Output
from cti.store import DEMO_PASSWORD, Store, seed_demo
from cti.web.adapters import AccountDirectory

# Framework routes that carry no CTI data: the only ones without a row.
EXCLUDED = frozenset(
    {
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("MOUNT", "/static"),
    }
)
# One user per role for the matrix.
ROLE_USERS = {"agent": "alice", "supervisor": "carol", "admin": "root"}
# Valid bodies, so that a refusal cannot hide behind a 422.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/login"): {"login": "alice", "password": DEMO_PASSWORD},
    ("POST", "/api/calls/dial"): {"number": "1002"},
    ("POST", "/api/calls/{call_id}/transfer"): {"target": "1002"},
    ("POST", "/api/calls/{call_id}/attended-transfer"): {"target": "1002"},
    ("POST", "/api/calls/{call_id}/dtmf"): {"digits": "12"},
    ("POST", "/api/agents/{login}/pause"): {"reason": "lunch"},
    ("POST", "/api/agents/{login}/login"): {"queues": ["support"]},
    ("POST", "/api/chat/direct"): {"login": "bob"},
    ("POST", "/api/chat/rooms"): {"name": "Floor", "members": ["bob"]},
    ("POST", "/api/chat/rooms/{conversation_id}/members"): {"members": ["bob"]},
    ("POST", "/api/chat/conversations/{conversation_id}/messages"): {"text": "hello"},
    ("POST", "/api/chat/conversations/{conversation_id}/read"): {"seq": 0},
    ("PUT", "/api/calls/{call_id}/disposition"): {"code": "resolved", "notes": ""},
    ("POST", "/api/webchat/start"): {"queue": "support"},
    ("POST", "/api/webchat/messages"): {"text": "hello"},
    ("POST", "/api/webchat/{conversation_id}/transfer"): {"queue": "support"},
    ("POST", "/api/webchat/{conversation_id}/end"): {"disposition": "resolved"},
}
UNAUTHORIZED = 4401


@dataclass(slots=True)
class Rig:
    service: CtiService
    http: httpx.AsyncClient
    tokens: dict[str, str]  # by login
    expired: str  # alice's token, expired
    conversations: dict[str, int]  # login -> a chat conversation they are in
    outputs: list[Output]  # what the model said while taking the three calls

    @property
    def app(self) -> FastAPI:
        return self.service.app

    def auth(self, login: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[login]}"}


@contextlib.asynccontextmanager
async def access_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with Store(url) as store:
        await seed_demo(store)
        await store.create_agent("root", "Root Admin", DEMO_PASSWORD, "admin", "PJSIP/1009")
        # a supervisor of billing with a phone (Dave has none: he cannot listen at all)
        await store.create_agent("sam", "Sam", DEMO_PASSWORD, "supervisor", "PJSIP/1006")
        await store.add_supervisor_queues("sam", ["billing"])
        settings = Settings(
            ami_host="127.0.0.1",
            ami_port=9,  # never connected
            ari_url="",
            database_url=url,
            http_host="127.0.0.1",
            http_port=0,
            token_secret="access-" + "a" * 40,
        )
        service = await CtiService.create(settings, store)
        outputs: list[Output] = []
        for i, event in enumerate(call_events()):
            outputs.extend(service.model.apply(event, 1_700_000_000.0 + i))
        transport = httpx.ASGITransport(app=service.app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as http:
                tokens = {}
                for login in ("alice", "bob", "carol", "dave", "sam", "root"):
                    r = await http.post(
                        "/api/login", json={"login": login, "password": DEMO_PASSWORD}
                    )
                    assert r.status_code == 200, r.text
                    tokens[login] = r.json()["token"]
                alice = await AccountDirectory(store).get_user("alice")
                assert alice is not None
                expired = service.app.state.auth.issue(alice, now=1_000_000.0).token
                rig = Rig(service, http, tokens, expired, {}, outputs)
                for login in ("carol", "root"):  # rooms, so they may add members
                    r = await http.post(
                        "/api/chat/rooms",
                        json={"name": f"{login}'s room", "members": []},
                        headers=rig.auth(login),
                    )
                    assert r.status_code == 201, r.text
                    rig.conversations[login] = r.json()["id"]
                r = await http.post(
                    "/api/chat/direct", json={"login": "bob"}, headers=rig.auth("alice")
                )
                assert r.status_code == 200, r.text
                rig.conversations["alice"] = r.json()["id"]
                yield rig
        finally:
            if service.bus is not None:
                await service.bus.aclose()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with access_rig(tmp_path) as found:
        yield found


def _walk(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "effective_candidates"):  # an included APIRouter (FastAPI >= 0.16x)
            yield from _walk(route.effective_candidates())
        else:
            yield route


def declared_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the app serves; "WS" for WebSockets, "MOUNT" for mounts."""
    found: set[tuple[str, str]] = set()
    for route in _walk(app.routes):
        methods = getattr(route, "methods", None)
        original = type(getattr(route, "original_route", route)).__name__
        if methods:
            found.update((m, route.path) for m in methods if m != "HEAD")
        elif "WebSocket" in original:
            found.add(("WS", route.path))
        else:
            found.add(("MOUNT", route.path))
    return found


async def test_every_route_has_a_row(rig: Rig) -> None:
    declared = declared_routes(rig.app)
    missing = sorted(declared - EXCLUDED - set(ACCESS))
    stale = sorted(set(ACCESS) - declared)
    assert missing == [], f"routes without a row in tests/web/access_policy.py: {missing}"
    assert stale == [], f"rows for routes the app does not have: {stale}"
    assert declared >= EXCLUDED  # the exclusions are real, not a blanket


def _params(rig: Rig, login: str) -> dict[str, str]:
    """Path parameters in `login`'s own scope: refusals then come from the role alone."""
    if login not in rig.conversations:  # no token: any real id
        login = "carol"
    return {
        "call_id": QUEUE_CALL,  # Alice's call, in support (Carol's), root sees all
        "login": login,
        "queue": "support",
        "team": "tier1",
        "conversation_id": str(rig.conversations[login]),
    }


async def _call(
    rig: Rig, method: str, path: str, login: str | None, token: str | None = None
) -> httpx.Response:
    url = path.format(**_params(rig, login or "alice"))
    if token is None and login is not None:
        token = rig.tokens[login]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await rig.http.request(method, url, json=BODIES.get((method, path)), headers=headers)


async def _ws_close_code(base: str, token: str | None) -> int | None:
    """The close code /ws answers `token` with, or None if it said hello and stayed open."""
    query = f"?token={token}" if token else ""
    async with connect(f"{base}/ws{query}") as ws:
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 2))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        assert first["type"] == "hello", first
        return None


async def test_every_route_refuses_the_roles_it_must_and_lets_the_others_through(
    rig: Rig,
) -> None:
    problems: list[str] = []
    for (method, path), policy in sorted(ACCESS.items()):
        if method == "WS":
            continue  # below, on a real server
        if not policy.public:
            for label, token in (("no token", None), ("expired token", rig.expired)):
                r = await _call(rig, method, path, None, token or "")
                if r.status_code != 401:
                    problems.append(f"{method} {path} {label}: {r.status_code}, expected 401")
        for role, login in ROLE_USERS.items():
            r = await _call(rig, method, path, login)
            allowed = role in policy.roles
            if allowed and r.status_code in (401, 403):
                problems.append(f"{method} {path} as {role}: {r.status_code} {r.text[:120]}")
            if not allowed and r.status_code != 403:
                problems.append(f"{method} {path} as {role}: {r.status_code}, expected 403")
    assert problems == []


async def test_the_websocket_refuses_missing_and_expired_tokens(rig: Rig) -> None:
    policy = ACCESS[("WS", "/ws")]
    async with serve(rig.app) as base:
        assert await _ws_close_code(base, None) == UNAUTHORIZED
        assert await _ws_close_code(base, rig.expired) == UNAUTHORIZED
        for role, login in ROLE_USERS.items():
            assert role in policy.roles
            assert await _ws_close_code(base, rig.tokens[login]) is None


# -- scoping -------------------------------------------------------------------------


async def _get(rig: Rig, path: str, login: str) -> list[dict[str, Any]]:
    r = await rig.http.get(path, headers=rig.auth(login))
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list)
    return body


async def test_rest_snapshots_are_scoped_by_queue_and_team(rig: Rig) -> None:
    async def calls(login: str) -> set[str]:
        return {c["call_id"] for c in await _get(rig, "/api/calls", login)}

    async def queues(login: str) -> set[str]:
        return {q["name"] for q in await _get(rig, "/api/queues", login)}

    async def agents(login: str) -> set[str]:
        return {a["interface"] for a in await _get(rig, "/api/agents", login)}

    every_call = {QUEUE_CALL, SALES_CALL, BILLING_CALL}
    assert await calls("root") == every_call
    assert await queues("root") == {"support", "sales", "billing"}
    # Carol: her queues' calls, and the billing call too because Bob (tier1) is on it
    assert await calls("carol") == every_call
    assert await queues("carol") == {"support", "sales"}  # not billing: not her queue
    assert {"PJSIP/1001", "PJSIP/1002"} <= await agents("carol") <= await agents("root")
    # Dave: billing only, and Bob as a member of billing, not Alice
    assert await calls("dave") == {BILLING_CALL}
    assert await queues("dave") == {"billing"}
    assert await agents("dave") == {"PJSIP/1002"}
    # agents: only their own calls and themselves
    assert await calls("alice") == {QUEUE_CALL}
    assert await calls("bob") == {SALES_CALL, BILLING_CALL}
    assert await agents("alice") == {"PJSIP/1001"}
    assert await queues("alice") == {"support"}  # the queues they are a member of
    assert await queues("bob") == {"sales", "billing"}


async def test_queue_metrics_are_scoped_to_the_supervisors_queues(rig: Rig) -> None:
    await rig.service.engine.route(rig.outputs)  # the metrics learn the three queues

    async def boards(login: str) -> set[str]:
        return {b["queue"] for b in await _get(rig, "/api/queues/metrics", login)}

    assert await boards("root") == {"support", "sales", "billing"}
    assert await boards("carol") == {"support", "sales"}
    assert await boards("dave") == {"billing"}
    one = await rig.http.get("/api/queues/billing/metrics", headers=rig.auth("carol"))
    assert (one.status_code, one.json()["detail"]) == (403, "not one of your queues: billing")
    mine = await rig.http.get("/api/queues/billing/metrics", headers=rig.auth("dave"))
    assert mine.status_code == 200
    assert mine.json()["queue"] == "billing"


async def test_listen_follows_queues_and_teams(rig: Rig) -> None:
    async def listen(login: str, call_id: str) -> int:
        r = await rig.http.post(f"/api/calls/{call_id}/listen", headers=rig.auth(login))
        return r.status_code

    # 503: authorized, then refused for want of Asterisk (never connected here)
    assert await listen("carol", QUEUE_CALL) == 503  # her queue
    assert await listen("carol", BILLING_CALL) == 503  # not her queue: her team's Bob
    assert await listen("sam", BILLING_CALL) == 503  # his queue
    assert await listen("sam", QUEUE_CALL) == 403  # neither his queue nor his team
    assert await listen("sam", SALES_CALL) == 403
    assert await listen("dave", BILLING_CALL) == 422  # his queue, but no phone to listen with
    assert await listen("alice", QUEUE_CALL) == 403  # agents never listen


async def _frames(ws: ClientConnection, seconds: float = 0.3) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while True:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    return out


async def test_websocket_feeds_are_scoped(rig: Rig) -> None:
    """The engine routes the model's outputs (pops, queue_state); the hub's scoped
    publishes carry agent and call news to the right supervisors only."""
    hub = rig.service.hub
    logins = ("alice", "bob", "carol", "dave", "root")
    async with serve(rig.app) as base, contextlib.AsyncExitStack() as stack:
        sockets = {
            login: await stack.enter_async_context(connect(f"{base}/ws?token={rig.tokens[login]}"))
            for login in logins
        }
        for ws in sockets.values():
            assert json.loads(await asyncio.wait_for(ws.recv(), 2))["type"] == "hello"
        await rig.service.engine.route(rig.outputs)
        hub.publish_about_agent("PJSIP/1002", ["billing"], {"type": "agent_state", "who": "bob"})
        hub.publish_about_agent("PJSIP/1001", [], {"type": "agent_state", "who": "alice"})
        hub.publish_about_call("billing", ["PJSIP/1002"], {"type": "call_ended", "id": "b"})
        hub.publish_about_call("support", ["PJSIP/1009"], {"type": "call_ended", "id": "s"})
        got = {login: await _frames(ws) for login, ws in sockets.items()}

    def of(login: str, kind: str, key: str) -> set[Any]:
        return {f[key] for f in got[login] if f["type"] == kind and key in f}

    # pops: each agent their own, never anyone else's
    assert of("alice", "screen_pop", "call_id") == {QUEUE_CALL}
    assert of("bob", "screen_pop", "call_id") == {SALES_CALL, BILLING_CALL}
    assert of("carol", "screen_pop", "call_id") == set()
    # queue_state: supervisors their queues, the admin all, agents none
    assert of("carol", "queue_state", "queue") == {"support", "sales"}
    assert of("dave", "queue_state", "queue") == {"billing"}
    assert of("root", "queue_state", "queue") == {"support", "sales", "billing"}
    assert of("alice", "queue_state", "queue") == set()
    # agent news: Carol for her team (both), Dave for his queue (Bob's billing news)
    assert of("carol", "agent_state", "who") == {"bob", "alice"}
    assert of("dave", "agent_state", "who") == {"bob"}
    assert of("root", "agent_state", "who") == {"bob", "alice"}
    assert of("bob", "agent_state", "who") == set()
    # call news: by queue or by a party of the supervisor's team
    assert of("carol", "call_ended", "id") == {"b", "s"}
    assert of("dave", "call_ended", "id") == {"b"}
    assert of("root", "call_ended", "id") == {"b", "s"}
    assert of("alice", "call_ended", "id") == set()
