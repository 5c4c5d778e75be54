"""Call controls over REST and WebSocket, on the real CallControl, AmiClient and fake Asterisk.

For every command: CR, LF and header-injection attempts in any field are
answered 422 / `invalid` naming the field, and the fake Asterisk receives no
action; the same command with a valid value does reach it (so the negative
cannot pass vacuously). Then the error codes: not_your_call, call_gone,
asterisk_refused (with Asterisk's message) and timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from control_tools import (
    ALICE,
    BILLING_CALL,
    BOB,
    CAROL,
    INJECTIONS,
    QUEUE_CALL,
    SALES_CALL,
    ControlRig,
    control_actions,
    control_rig,
)
from web_fakes import SETTINGS, FakeUsers, serve
from websockets.asyncio.client import ClientConnection, connect

from cti.control.commands import COMMAND_NAMES, SPY_COMMANDS
from cti.web.adapters import ControlAdapter, ModelStateView
from cti.web.app import create_app
from cti.web.auth import TokenAuth
from cti.web.catalogue import render
from cti.web.control import COMMAND_ROUTES
from cti.web.hub import Hub
from cti.web.ports import User

USERS = FakeUsers(users={u.login: u for u in (ALICE, BOB, CAROL)})
AUTH = TokenAuth(USERS, SETTINGS)

# command -> (path under /api/calls, with {cid}; JSON body or None)
ROUTES: dict[str, tuple[str, dict[str, str] | None]] = {
    "dial": ("/dial", {"number": "5551234"}),
    "hangup": ("/{cid}/hangup", None),
    "hold": ("/{cid}/hold", None),
    "unhold": ("/{cid}/unhold", None),
    "transfer": ("/{cid}/transfer", {"target": "1002"}),
    "attended_transfer": ("/{cid}/attended-transfer", {"target": "1002"}),
    "attended_transfer_complete": ("/{cid}/attended-transfer/complete", None),
    "attended_transfer_cancel": ("/{cid}/attended-transfer/cancel", None),
    "dtmf": ("/{cid}/dtmf", {"digits": "1"}),
    "listen": ("/{cid}/listen", None),
    "whisper": ("/{cid}/whisper", None),
    "barge": ("/{cid}/barge", None),
}
BODY_FIELDS = [(name, f) for name, (_, body) in ROUTES.items() for f in (body or {})]
PATH_COMMANDS = [name for name in COMMAND_NAMES if name != "dial"]
# Commands the fake answers at once with a valid value (the others need a
# consultation or a live channel and are refused before or by Asterisk).
REACHING = ["dial", "hangup", "hold", "transfer", "dtmf", "listen"]


def actor_for(name: str) -> User:
    return CAROL if name in SPY_COMMANDS else ALICE


def headers(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {AUTH.issue(user).token}"}


def url(name: str, cid: str = QUEUE_CALL) -> str:
    return "/api/calls" + ROUTES[name][0].format(cid=quote(cid, safe=""))


@pytest.fixture
async def rig() -> AsyncIterator[ControlRig]:
    async with control_rig(action_timeout=0.3) as r:
        yield r


def app_for(rig: ControlRig, hub: Hub | None = None) -> Any:
    return create_app(
        users=USERS,
        state=ModelStateView(rig.model),
        hub=hub or Hub(),
        settings=SETTINGS,
        control=ControlAdapter(rig.control),
    )


@pytest.fixture
async def client(rig: ControlRig) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(rig))
    async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as c:
        yield c


async def post(
    client: httpx.AsyncClient, name: str, cid: str = QUEUE_CALL, **body: str
) -> httpx.Response:
    default = ROUTES[name][1]
    payload = {**default, **body} if default is not None else (body or None)
    return await client.post(url(name, cid), json=payload, headers=headers(actor_for(name)))


async def nothing_reached(rig: ControlRig) -> None:
    await asyncio.sleep(0.02)  # anything sent would have arrived by now
    assert control_actions(rig.fake) == []


# -- REST -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize(("name", "field"), BODY_FIELDS)
async def test_rest_injection_in_a_body_field_is_422_and_reaches_nothing(
    client: httpx.AsyncClient, rig: ControlRig, name: str, field: str, bad: str
) -> None:
    r = await post(client, name, **{field: bad})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["ok"] is False
    assert body["command"] == name
    assert body["error"]["code"] == "invalid"
    assert body["error"]["fields"] == [field]
    assert "\n" not in body["error"]["message"]
    assert "\r" not in body["error"]["message"]
    await nothing_reached(rig)


@pytest.mark.parametrize("bad", [b for b in INJECTIONS if b])
@pytest.mark.parametrize("name", PATH_COMMANDS)
async def test_rest_injection_in_the_call_id_is_422_and_reaches_nothing(
    client: httpx.AsyncClient, rig: ControlRig, name: str, bad: str
) -> None:
    r = await post(client, name, cid=bad)
    if "/" in bad:
        # %2F is decoded before routing: no route has that many segments
        assert r.status_code == 404, r.text
    else:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["fields"] == ["call_id"]
    await nothing_reached(rig)


@pytest.mark.parametrize("name", [n for n in ROUTES if ROUTES[n][1] is not None])
async def test_rest_extra_header_like_field_is_422(
    client: httpx.AsyncClient, rig: ControlRig, name: str
) -> None:
    r = await post(client, name, Channel="PJSIP/1002")
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == ["Channel"]
    await nothing_reached(rig)


@pytest.mark.parametrize("name", REACHING)
async def test_rest_valid_values_do_reach_asterisk(
    client: httpx.AsyncClient, rig: ControlRig, name: str
) -> None:
    r = await post(client, name)
    assert r.status_code in (200, 502), r.text  # 502: the fake has no such channel
    assert control_actions(rig.fake)


async def test_rest_error_codes(client: httpx.AsyncClient, rig: ControlRig) -> None:
    r = await post(client, "hold", cid=SALES_CALL)  # Bob's call
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_your_call")
    r = await client.post(url("listen"), headers=headers(ALICE))  # agents may not spy
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_your_call")
    for name in ("listen", "barge"):
        r = await client.post(url(name, BILLING_CALL), headers=headers(CAROL))
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_your_call")
    r = await client.post(url("hangup", BILLING_CALL), headers=headers(CAROL))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_your_call")
    r = await post(client, "hangup", cid="9999.1")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "call_gone")
    await nothing_reached(rig)
    r = await post(client, "hangup")
    assert r.status_code == 502
    assert r.json()["error"] == {
        "code": "asterisk_refused",
        "message": "Hangup: No such channel",
        "fields": [],
    }
    rig.fake.set_silent(True)
    r = await post(client, "hold")
    assert (r.status_code, r.json()["error"]["code"]) == (504, "timeout")


async def test_rest_dial_ok_and_supervisor_on_a_queue_call(
    client: httpx.AsyncClient, rig: ControlRig
) -> None:
    r = await post(client, "dial")
    assert r.status_code == 200
    assert r.json() == {
        "ok": True,
        "command": "dial",
        "call_id": None,
        "sent": 1,
        "message": "Originate successfully queued",
    }
    r = await client.post(url("whisper", SALES_CALL), headers=headers(CAROL))
    assert r.status_code == 200
    assert control_actions(rig.fake)[-1][1]["Data"] == "PJSIP/1002-,qw"
    r = await client.post(url("hangup"), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_rest_routes_are_in_openapi_and_in_the_catalogue(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(COMMAND_ROUTES) == set(COMMAND_NAMES) == set(ROUTES)
    for name, (path, fields) in COMMAND_ROUTES.items():
        assert path == "/api/calls" + ROUTES[name][0].replace("{cid}", "{call_id}")
        assert fields == tuple(ROUTES[name][1] or ())
        op = paths[path]["post"]
        assert set(op["responses"]) >= {"200", "403", "404", "422", "502", "503", "504"}, name
        assert f"| `{name}` |" in render()
    assert "\n### command_result\n" in render()


# -- WebSocket ----------------------------------------------------------------------


async def ws_result(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    async with asyncio.timeout(3):
        while True:
            data = json.loads(await ws.recv())
            if data.get("type") == "command_result":
                return dict(data)


def ws_message(name: str, ref: str = "c1", cid: str = QUEUE_CALL, **extra: str) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "command", "id": ref, "command": name}
    data.update(ROUTES[name][1] or {})
    if name != "dial":
        data["call_id"] = cid
    data.update(extra)
    return data


@pytest.fixture
async def ws_base(rig: ControlRig) -> AsyncIterator[str]:
    async with serve(app_for(rig, Hub(stream_id="run1"))) as base:
        yield base


def ws_url(base: str, user: User) -> str:
    return f"{base}/ws?token={AUTH.issue(user).token}"


async def test_ws_injections_in_every_field_of_every_command(ws_base: str, rig: ControlRig) -> None:
    cases = [(n, f) for n, f in BODY_FIELDS] + [(n, "call_id") for n in PATH_COMMANDS]
    for user in (ALICE, CAROL):
        async with connect(ws_url(ws_base, user)) as ws:
            for i, (name, field) in enumerate(cases):
                if actor_for(name) != user:
                    continue
                for j, bad in enumerate(INJECTIONS):
                    ref = f"c{i}.{j}"
                    result = await ws_result(ws, ws_message(name, ref, **{field: bad}))
                    assert result["id"] == ref
                    assert result["ok"] is False
                    assert result["command"] == name
                    assert result["error"]["code"] == "invalid"
                    assert result["error"]["fields"] == [field]
                    assert "seq" not in result  # not part of the numbered stream
                extra = await ws_result(ws, ws_message(name, f"x{i}", Channel="PJSIP/1002"))
                assert extra["error"]["fields"] == ["Channel"]
    await nothing_reached(rig)


async def test_ws_valid_commands_reach_asterisk_and_errors_carry_codes(
    ws_base: str, rig: ControlRig
) -> None:
    async with connect(ws_url(ws_base, ALICE)) as ws:
        result = await ws_result(ws, ws_message("dial", "d1"))
        assert result == {
            "type": "command_result",
            "id": "d1",
            "ok": True,
            "command": "dial",
            "call_id": None,
            "agent": None,  # set by the agent-state commands only
            "sent": 1,
            "message": "Originate successfully queued",
            "error": None,
        }
        result = await ws_result(ws, ws_message("hold", "h1", cid=SALES_CALL))
        assert (result["ok"], result["error"]["code"]) == (False, "not_your_call")
        result = await ws_result(ws, ws_message("listen", "l1"))
        assert result["error"]["code"] == "not_your_call"
        result = await ws_result(ws, ws_message("hangup", "g1", cid="9999.1"))
        assert result["error"]["code"] == "call_gone"
        result = await ws_result(ws, ws_message("hangup", "g2"))
        assert result["error"] == {
            "code": "asterisk_refused",
            "message": "Hangup: No such channel",
            "fields": [],
        }
        result = await ws_result(ws, {"type": "command", "command": "hangup"})
        assert (result["id"], result["error"]["fields"]) == (None, ["id"])
        await ws.send("not json")  # ignored, like any non-command message
        await ws.send(json.dumps({"type": "ping"}))
        rig.fake.set_silent(True)
        result = await ws_result(ws, ws_message("hold", "t1"))
        assert (result["id"], result["error"]["code"]) == ("t1", "timeout")
    names = [a for a, _ in control_actions(rig.fake)]
    assert names == ["originate", "hangup"]  # a silent Asterisk records nothing either
    async with connect(ws_url(ws_base, CAROL)) as ws:
        result = await ws_result(ws, ws_message("barge", "b1", cid=BILLING_CALL))
        assert result["error"]["code"] == "not_your_call"
