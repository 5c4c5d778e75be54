"""The /ws endpoint end to end: real uvicorn on 127.0.0.1:0, real `websockets` client."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from web_fakes import ALICE, BOB, SETTINGS, SUE, FakeState, FakeUsers, make_app, serve
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cti.config import Settings
from cti.web.app import create_app
from cti.web.auth import TokenAuth
from cti.web.hub import Hub
from cti.web.ports import User

AUTH = TokenAuth(FakeUsers(), SETTINGS)


def token(user: User) -> str:
    return AUTH.issue(user).token


def pop(interface: str, call_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "screen_pop", "interface": interface, "call_id": call_id, **extra}


async def recv(ws: ClientConnection, wait: float = 2.0) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), wait))
    assert isinstance(data, dict)
    return data


async def nothing_more(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.1)


async def read_until_closed(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)


@pytest.fixture
async def hub() -> Hub:
    return Hub(replay_window=50, stream_id="run1")


@pytest.fixture
async def base(hub: Hub) -> AsyncIterator[str]:
    async with serve(make_app(hub)) as url:
        yield url


def ws_url(base: str, **params: str | int) -> str:
    return f"{base}/ws?{urlencode(params)}"


async def closed_with(url: str) -> tuple[int, str]:
    async with connect(url, close_timeout=1) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def test_missing_bad_and_expired_tokens_are_refused_with_4401(base: str) -> None:
    expired = AUTH.issue(ALICE, now=1_000_000.0).token
    foreign = TokenAuth(FakeUsers(), Settings(token_secret="z" * 40)).issue(ALICE).token
    ghost = AUTH.issue(User("ghost", "Ghost", "agent", "PJSIP/1666")).token
    assert await closed_with(f"{base}/ws") == (4401, "missing token")
    assert await closed_with(ws_url(base, token="not-a-jwt")) == (4401, "invalid token")
    assert await closed_with(ws_url(base, token=expired)) == (4401, "token expired")
    assert await closed_with(ws_url(base, token=foreign)) == (4401, "invalid token")
    assert await closed_with(ws_url(base, token=ghost)) == (4401, "unknown user")
    bad_since = ws_url(base, token=token(ALICE), since="-1")
    assert await closed_with(bad_since) == (4400, "since must be a non-negative integer")


async def test_token_expiring_mid_session_closes_the_socket() -> None:
    settings = Settings(token_secret=SETTINGS.token_secret, token_ttl_seconds=1)
    app = create_app(users=FakeUsers(), state=FakeState(), hub=Hub(), settings=settings)
    short = TokenAuth(FakeUsers(), settings).issue(ALICE).token
    async with serve(app) as base, connect(ws_url(base, token=short)) as ws:
        assert (await recv(ws))["type"] == "hello"
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws, wait=3)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401, "token expired")


async def test_agent_never_receives_another_agents_pop(base: str, hub: Hub) -> None:
    async with (
        connect(ws_url(base, token=token(ALICE))) as alice,
        connect(ws_url(base, token=token(BOB))) as bob,
    ):
        hello = await recv(alice)
        assert hello["type"] == "hello"
        assert hello["user"]["interface"] == "PJSIP/1001"
        assert (await recv(bob))["user"]["login"] == "bob"
        hub.publish_to_interface("PJSIP/1002", pop("PJSIP/1002", "for-bob"))
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", "for-alice"))
        got = await recv(alice)
        assert (got["call_id"], got["seq"], got["stream_id"]) == ("for-alice", 1, "run1")
        assert (await recv(bob))["call_id"] == "for-bob"
        await nothing_more(alice)
        await nothing_more(bob)


async def test_supervisor_gets_role_feed_agents_do_not(base: str, hub: Hub) -> None:
    async with (
        connect(ws_url(base, token=token(SUE))) as sue,
        connect(ws_url(base, token=token(ALICE))) as alice,
    ):
        await recv(sue)
        await recv(alice)
        hub.publish_to_role("supervisor", {"type": "agent_state", "interface": "PJSIP/1001"})
        hub.publish_to_role("supervisor", {"type": "queue_state", "queue": "support"})
        assert [(await recv(sue))["type"] for _ in range(2)] == ["agent_state", "queue_state"]
        await nothing_more(alice)


async def test_reconnect_with_since_gets_exactly_what_was_missed(base: str, hub: Hub) -> None:
    alice_token = token(ALICE)
    async with connect(ws_url(base, token=alice_token)) as ws:
        assert (await recv(ws))["seq"] == 0
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", "c1"))
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", "c2"))
        last = [(await recv(ws))["seq"] for _ in range(2)][-1]
    assert last == 2
    # Published while the agent's socket is down (the server may not even have noticed yet).
    for n in range(3, 6):
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", f"c{n}"))
    again = ws_url(base, token=alice_token, since=last, stream_id="run1")
    async with connect(again) as ws:
        hello = await recv(ws)
        assert (hello["type"], hello["seq"], hello["replaying"]) == ("hello", 5, 3)
        replayed = [await recv(ws) for _ in range(3)]
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", "c6"))
        live = await recv(ws)
        seen = [*replayed, live]
        assert [e["seq"] for e in seen] == [3, 4, 5, 6]
        assert [e["call_id"] for e in seen] == ["c3", "c4", "c5", "c6"]
        await nothing_more(ws)


async def test_since_older_than_window_or_other_run_gets_resync(base: str, hub: Hub) -> None:
    hub.register(ALICE)
    for n in range(60):  # window is 50
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", f"c{n}"))
    alice_token = token(ALICE)
    cases = ((3, "run1", "since_too_old"), (59, "run0", "stream_changed"))
    for current, (since, stream_id, reason) in enumerate(cases, start=60):
        url = ws_url(base, token=alice_token, since=since, stream_id=stream_id)
        async with connect(url) as ws:
            assert (await recv(ws))["type"] == "hello"
            assert await recv(ws) == {
                "type": "resync",
                "stream_id": "run1",
                "seq": current,
                "reason": reason,
            }
            hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", "live"))
            live = await recv(ws)
            assert live["call_id"] == "live"
            assert live["seq"] == current + 1


async def test_slow_client_is_disconnected_and_others_keep_flowing() -> None:
    hub = Hub(replay_window=100, send_queue=16)
    big = "x" * 128_000
    async with serve(make_app(hub)) as base:
        url = ws_url(base, token=token(ALICE))
        # A reader that stops reading: tiny receive buffer, so the server's send blocks soon
        # (loopback buffers otherwise absorb tens of MB).
        tiny = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        tiny.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        async with (
            connect(url, sock=tiny, max_queue=1, close_timeout=0.5, compression=None) as slow,
            connect(url, max_size=None) as fast,
        ):
            await recv(slow)
            await recv(fast)
            sent = 0
            while hub.stats.slow_disconnects == 0 and sent < 1000:
                for _ in range(8):
                    sent += 1
                    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", f"c{sent}", pad=big))
                for n in range(sent - 7, sent + 1):  # the fast client keeps up, in order
                    assert (await recv(fast))["seq"] == n
            assert hub.stats.slow_disconnects == 1, f"slow client never dropped after {sent}"
            assert hub.connection_count == 1
            hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", "after"))
            assert (await recv(fast))["call_id"] == "after"
            # The slow client's socket is closed under it (it may first read some buffered frames).
            with pytest.raises(ConnectionClosed):
                await read_until_closed(slow)
    assert sent > 16
