"""REST: login, bearer auth, per-role filtering, docs and the static page (httpx ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from web_fakes import ALICE, PASSWORD, SETTINGS, SUE, FakeState, FakeUsers, make_app

from cti.web.app import STATIC_DIR, create_app
from cti.web.auth import TokenAuth
from cti.web.hub import Hub


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as c:
        yield c


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    r = await client.post("/api/login", json={"login": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_login_returns_token_user_and_stream_position(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/login", json={"login": "alice", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == {
        "login": "alice",
        "display_name": "Alice",
        "role": "agent",
        "interface": "PJSIP/1001",
    }
    assert body["token"].count(".") == 2
    assert body["expires_at"].endswith("Z") or "+00:00" in body["expires_at"]
    assert body["stream"]["seq"] == 0
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["login"] == "alice"
    assert me.json()["stream"] == body["stream"]


@pytest.mark.parametrize(
    ("name", "password"), [("alice", "wrong"), ("nobody", PASSWORD), ("alice", "")]
)
async def test_bad_credentials_are_401(client: httpx.AsyncClient, name: str, password: str) -> None:
    r = await client.post("/api/login", json={"login": name, "password": password})
    if password:
        assert r.status_code == 401
        assert r.json() == {"detail": "invalid login or password"}
    else:
        assert r.status_code == 422  # empty password: refused before any look-up


async def test_rest_requires_a_valid_unexpired_token(client: httpx.AsyncClient) -> None:
    auth = TokenAuth(FakeUsers(), SETTINGS)
    expired = auth.issue(ALICE, now=1_000_000.0).token
    other_key = TokenAuth(FakeUsers(), type(SETTINGS)(token_secret="y" * 40)).issue(ALICE).token
    cases = {
        None: "missing token",
        "garbage": "invalid token",
        expired: "token expired",
        other_key: "invalid token",
    }
    for token, detail in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for path in ("/api/me", "/api/calls", "/api/queues", "/api/agents"):
            r = await client.get(path, headers=headers)
            assert r.status_code == 401, (path, token)
            assert r.json() == {"detail": detail}
            assert r.headers["www-authenticate"] == "Bearer"


async def test_agent_sees_only_own_calls_supervisor_sees_all(client: httpx.AsyncClient) -> None:
    alice = await login(client, "alice")
    calls = (await client.get("/api/calls", headers=alice)).json()
    assert [c["call_id"] for c in calls] == ["c1"]
    assert calls[0]["ivr_path"] == [{"step": "menu", "values": {"choice": "1"}, "at": 0.0}]
    assert calls[0]["variables"] == {"CTI_ACCOUNT": "23456"}
    agents = (await client.get("/api/agents", headers=alice)).json()
    assert [a["interface"] for a in agents] == ["PJSIP/1001"]

    sue = await login(client, SUE.login)
    assert [c["call_id"] for c in (await client.get("/api/calls", headers=sue)).json()] == [
        "c1",
        "c2",
        "c3",
    ]
    assert len((await client.get("/api/agents", headers=sue)).json()) == 2
    queues = (await client.get("/api/queues", headers=alice)).json()
    assert queues == [
        {
            "name": "support",
            "waiting": 1,
            "longest_wait_seconds": 12.5,
            "members": ["PJSIP/1001", "PJSIP/1002"],
        }
    ]


async def test_deleted_user_token_stops_working() -> None:
    users = FakeUsers()
    app = create_app(users=users, state=FakeState(), hub=Hub(), settings=SETTINGS)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cti.test"
    ) as c:
        headers = await login(c, "alice")
        assert (await c.get("/api/me", headers=headers)).status_code == 200
        del users.users["alice"]
        r = await c.get("/api/me", headers=headers)
        assert (r.status_code, r.json()) == (401, {"detail": "unknown user"})


async def test_health_docs_and_page(client: httpx.AsyncClient) -> None:
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["connections"] == 0
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert {"/api/login", "/api/me", "/api/calls", "/api/queues", "/api/agents"} <= set(
        schema["paths"]
    )
    page = await client.get("/")
    assert page.status_code == 200
    assert "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    js = await client.get("/static/app.js")
    assert js.status_code == 200
    assert "WebSocket" in js.text


def test_static_page_never_uses_html_sinks() -> None:
    # Caller names are attacker-controlled: the page must only use textContent.
    for path in STATIC_DIR.iterdir():
        name, text = path.name, path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{name} uses {sink}"
