"""The asyncio AMI client against a tiny fake AMI server on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from cti.ami.client import AmiClient, Connected, Disconnected, Snapshot, StreamItem
from cti.ami.errors import (
    AmiActionError,
    AmiDisconnected,
    AmiError,
    AmiLoginError,
    AmiTimeout,
)
from cti.ami.protocol import Event

SECRET = "cti-secret"
Action = dict[str, str]


def frame(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


def event(name: str, **fields: str) -> bytes:
    return frame(Event=name, **fields)


def _list(aid: str, start_msg: str, items: list[bytes], complete: str) -> list[bytes]:
    done = event(complete, ActionID=aid, EventList="Complete", ListItems=str(len(items)))
    start = frame(Response="Success", ActionID=aid, EventList="start", Message=start_msg)
    return [start, *items, done]


@dataclass
class Conn:
    writer: asyncio.StreamWriter
    actions: list[Action] = field(default_factory=list)

    def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[Conn, Action], Awaitable[list[bytes] | None]]


class FakeAmi:
    """Just enough of Asterisk's AMI: login, Ping, the resync lists, hooks."""

    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.connect_times: list[float] = []
        self.answer_ping = True
        self.handlers: dict[str, Handler] = {}
        self.after_login: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self._new_conn = asyncio.Event()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for conn in self.conns:
            conn.close()
        await self.server.wait_closed()

    async def wait_conns(self, n: int) -> Conn:
        async with asyncio.timeout(5):
            while len(self.conns) < n:
                self._new_conn.clear()
                await self._new_conn.wait()
        return self.conns[n - 1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(writer)
        self.conns.append(conn)
        self.connect_times.append(time.monotonic())
        self._new_conn.set()
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = raw.decode().split("\r\n")
                action = dict(line.split(": ", 1) for line in lines if line)
                conn.actions.append(action)
                for out in await self._answer(conn, action) or []:
                    writer.write(out)
        writer.close()

    async def _answer(self, conn: Conn, action: Action) -> list[bytes] | None:
        name, aid = action["Action"], action["ActionID"]
        if name in self.handlers:
            return await self.handlers[name](conn, action)
        if name == "Login":
            if action.get("Secret") != SECRET:
                return [frame(Response="Error", ActionID=aid, Message="Authentication failed")]
            ok = frame(Response="Success", ActionID=aid, Message="Authentication accepted")
            return [ok, event("FullyBooted", Status="Fully Booted"), *self.after_login]
        if name == "Ping":
            return (
                [frame(Response="Success", ActionID=aid, Ping="Pong")] if self.answer_ping else []
            )
        if name == "CoreShowChannels":
            item = event("CoreShowChannel", ActionID=aid, Channel="PJSIP/1001-00000014")
            return _list(aid, "Channels will follow", [item], "CoreShowChannelsComplete")
        if name == "QueueStatus":
            item = event("QueueParams", ActionID=aid, Queue="support")
            return _list(aid, "Queue status will follow", [item], "QueueStatusComplete")
        if name == "BridgeList":  # Asterisk 22 sends these items without ActionID
            item = event("BridgeListItem", BridgeUniqueid="7f3a", BridgeType="basic")
            return _list(aid, "Bridge listing will follow", [item], "BridgeListComplete")
        if name == "DeviceStateList":
            item = event("DeviceStateChange", ActionID=aid, Device="PJSIP/1001", State="INUSE")
            return _list(aid, "Device State Changes will follow", [item], "DeviceStateListComplete")
        if name == "Silent":
            return None
        return [frame(Response="Error", ActionID=aid, Message="Invalid/unknown command")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def running(fake: FakeAmi, secret: str = SECRET, **kw: float) -> AsyncIterator[AmiClient]:
    opts: dict[str, float] = {"reconnect_min": 0.02, "reconnect_max": 0.2, **kw}
    client = AmiClient("127.0.0.1", fake.port, "cti", secret, **opts)  # type: ignore[arg-type]
    task = asyncio.create_task(client.run())
    try:
        yield client
    finally:
        await client.close()
        async with asyncio.timeout(5):
            await task


async def next_item(client: AmiClient) -> StreamItem:
    async with asyncio.timeout(5):
        return await client.stream.get()


async def items_until(client: AmiClient, stop: Callable[[StreamItem], bool]) -> list[StreamItem]:
    out: list[StreamItem] = []
    while not out or not stop(out[-1]):
        out.append(await next_item(client))
    return out


def kinds(items: list[StreamItem]) -> list[str]:
    """Names in stream order; a resync list that is not the login's last is "SnapshotPart"."""
    return [
        i.name
        if isinstance(i, Event)
        else "SnapshotPart"
        if isinstance(i, Snapshot) and not i.complete
        else type(i).__name__
        for i in items
    ]


def resynced(item: StreamItem) -> bool:
    return isinstance(item, Snapshot) and item.complete


async def test_login_resync_and_stream_order(fake: FakeAmi) -> None:
    fake.after_login = [event("Newchannel", Channel="PJSIP/1002-1")]
    async with running(fake) as client:
        await client.wait_connected(5)
        items = await items_until(client, resynced)
        parts = ["SnapshotPart"] * (len(client.resync_actions) - 1)
        assert kinds(items) == ["Connected", "FullyBooted", "Newchannel", *parts, "Snapshot"]
        connected = items[0]
        assert isinstance(connected, Connected)
        assert connected.version == "11.0.0"
        results = [r for i in items if isinstance(i, Snapshot) for r in i.results]
        assert [r.action for r in results] == list(client.resync_actions)
        assert all(r.complete is not None for r in results)
        bridges = next(r for r in results if r.action == "BridgeList")
        assert [i.fields["BridgeUniqueid"] for i in bridges.items] == ["7f3a"]
        conn = fake.conns[0]
        assert conn.actions[0] == {
            "Action": "Login",
            "ActionID": conn.actions[0]["ActionID"],
            "Username": "cti",
            "Secret": SECRET,
        }


async def test_bad_credentials_back_off_exponentially(fake: FakeAmi) -> None:
    async with running(fake, secret="wrong", reconnect_min=0.04, reconnect_max=10.0) as client:
        with pytest.raises(AmiTimeout):
            await client.wait_connected(0.6)
        assert client.stats.login_failures >= 3
        assert client.stats.connects == 0
        assert client.stream.empty()  # never connected: no Connected/Disconnected
    gaps = [b - a for a, b in itertools.pairwise(fake.connect_times)]
    # Jitter draws the i-th delay from [c/2, c] with c = 0.04 * 2**i: lower bounds
    # hold however slow the machine is, and they rule out a hot loop.
    for i, gap in enumerate(gaps):
        assert gap >= 0.04 * 2**i / 2 * 0.95, gaps
    assert len(gaps) <= 5, gaps


async def test_login_error_type() -> None:
    err = AmiLoginError("Authentication failed")
    assert isinstance(err, AmiError)
    assert issubclass(AmiDisconnected, AmiError)
    assert issubclass(AmiTimeout, TimeoutError)


async def test_actions_are_correlated_by_action_id(fake: FakeAmi) -> None:
    gate = asyncio.Event()

    async def slow_first(conn: Conn, action: Action) -> list[bytes]:
        if action["Which"] == "first":
            await gate.wait()  # answered after the second one
        else:
            gate.set()
        return [frame(Response="Success", ActionID=action["ActionID"], Echo=action["Which"])]

    async def delayed(conn: Conn, action: Action) -> None:
        asyncio.get_running_loop().create_task(_answer_later(conn, action))

    async def _answer_later(conn: Conn, action: Action) -> None:
        out = await slow_first(conn, action)
        conn.send(*out)

    fake.handlers["Echo"] = delayed
    async with running(fake) as client:
        await client.wait_connected(5)
        first = asyncio.create_task(client.send_action("Echo", {"Which": "first"}))
        second = asyncio.create_task(client.send_action("Echo", [("Which", "second")]))
        r1, r2 = await asyncio.gather(first, second)
        assert (r1.fields["Echo"], r2.fields["Echo"]) == ("first", "second")
        with pytest.raises(AmiActionError) as info:
            await client.send_action("NoSuchAction")
        assert info.value.response.message == "Invalid/unknown command"


async def test_list_action_collects_items_without_action_id(fake: FakeAmi) -> None:
    async with running(fake, resync_actions=()) as client:  # type: ignore[arg-type]
        await client.wait_connected(5)
        result = await client.send_list_action("BridgeList")
        assert result.response.status == "Success"
        assert [i.name for i in result.items] == ["BridgeListItem"]
        assert result.complete is not None
        assert result.complete.name == "BridgeListComplete"
        items = await items_until(client, lambda i: isinstance(i, Event))
        assert kinds(items) == ["Connected", "FullyBooted"]  # list items stay out of the stream
        await asyncio.sleep(0.05)
        assert client.stream.empty()


async def test_action_timeout_and_the_link_survives(fake: FakeAmi) -> None:
    async with running(fake) as client:
        await client.wait_connected(5)
        t0 = time.monotonic()
        with pytest.raises(AmiTimeout):
            await client.send_action("Silent", timeout=0.1)
        assert 0.09 <= time.monotonic() - t0 < 1.0
        pong = await client.send_action("Ping")
        assert pong.fields["Ping"] == "Pong"
        assert client._pending == {}


async def test_pending_actions_fail_when_the_link_drops(fake: FakeAmi) -> None:
    async with running(fake) as client:
        await client.wait_connected(5)
        waiting = [asyncio.create_task(client.send_action("Silent", timeout=5)) for _ in range(3)]
        listing = asyncio.create_task(client.send_list_action("Silent", timeout=5))
        await asyncio.sleep(0.05)
        fake.conns[0].close()
        for task in [*waiting, listing]:
            with pytest.raises(AmiDisconnected):
                await task
        items = await items_until(client, lambda i: isinstance(i, Disconnected))
        assert "closed by Asterisk" in items[-1].reason  # type: ignore[union-attr]
        await fake.wait_conns(2)
        await client.wait_connected(5)
    with pytest.raises(AmiDisconnected):
        await client.send_action("Ping")  # closed client: fails at once


async def test_ping_timeout_detects_a_silent_peer_and_reconnects(fake: FakeAmi) -> None:
    fake.answer_ping = False
    async with running(fake, ping_interval=0.1, ping_timeout=0.1) as client:
        await client.wait_connected(5)
        items = await items_until(client, lambda i: isinstance(i, Disconnected))
        assert "Ping" in items[-1].reason  # type: ignore[union-attr]
        fake.answer_ping = True
        await fake.wait_conns(2)
        items = await items_until(client, resynced)
        assert kinds(items)[0] == "Connected"
        await asyncio.sleep(0.5)  # pings answered now: the link stays up
        assert len(fake.conns) == 2
        assert client.connected


async def test_every_reconnect_is_followed_by_a_snapshot(fake: FakeAmi) -> None:
    async with running(fake) as client:
        for n in range(1, 4):
            items = await items_until(client, resynced)
            parts = ["SnapshotPart"] * (len(client.resync_actions) - 1)
            assert kinds(items) == ["Connected", "FullyBooted", *parts, "Snapshot"]
            (await fake.wait_conns(n)).close()
            items = await items_until(client, lambda i: isinstance(i, Disconnected))
            assert kinds(items) == ["Disconnected"]
        assert client.stats.connects >= 3


async def test_events_during_resync_keep_their_place(fake: FakeAmi) -> None:
    async def queue_status(conn: Conn, action: Action) -> list[bytes]:
        aid = action["ActionID"]
        return [
            frame(Response="Success", ActionID=aid, EventList="start", Message="x"),
            event("Hangup", Channel="A"),  # live traffic between list replies
            event("QueueStatusComplete", ActionID=aid, EventList="Complete"),
            event("Hangup", Channel="B"),
        ]

    fake.handlers["QueueStatus"] = queue_status
    async with running(fake, resync_actions=("QueueStatus",)) as client:  # type: ignore[arg-type]
        items = await items_until(client, lambda i: isinstance(i, Event) and i.name == "Hangup")
        items += await items_until(client, lambda i: isinstance(i, Event) and i.name == "Hangup")
        assert kinds(items) == ["Connected", "FullyBooted", "Hangup", "Snapshot", "Hangup"]


async def test_slow_consumer_loses_nothing(fake: FakeAmi, caplog: pytest.LogCaptureFixture) -> None:
    total = 2000
    fake.after_login = [b"".join(event("VarSet", Variable="N", Value=str(i)) for i in range(total))]
    async with running(fake, queue_size=8, ping_interval=0.05, ping_timeout=0.05) as client:
        seen: list[str] = []
        while len(seen) < total:
            item = await next_item(client)
            if isinstance(item, Event) and item.name == "VarSet":
                seen.append(item.fields["Value"])
            if len(seen) % 100 == 0:
                await asyncio.sleep(0.01)  # a slow consumer
        assert seen == [str(i) for i in range(total)]
        assert client.stats.stalls > 0
        assert len(fake.conns) == 1  # back-pressure is not mistaken for a dead peer


async def test_bad_frames_are_logged_and_counted(
    fake: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.after_login = [b"garbage\r\n\r\n", b"Event: X\r\nName: \xff\r\n\r\n", event("Hangup")]
    with caplog.at_level(logging.WARNING, logger="cti.ami"):
        async with running(fake, resync_actions=()) as client:  # type: ignore[arg-type]
            items = await items_until(client, lambda i: isinstance(i, Event) and i.name == "Hangup")
            assert kinds(items) == ["Connected", "FullyBooted", "Hangup"]
            assert client.stats.bad_frames == 2
            assert client.parser.stats.bad_frames == 2
    messages = [r.getMessage() for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(messages) == 2
    assert "Key: Value" in messages[0]
    assert "invalid UTF-8" in messages[1]


async def test_connect_refused_is_retried(fake: FakeAmi) -> None:
    port = fake.port
    await fake.stop()
    client = AmiClient("127.0.0.1", port, "cti", SECRET, reconnect_min=0.01, reconnect_max=0.05)
    task = asyncio.create_task(client.run())
    await asyncio.sleep(0.2)
    assert client.stats.last_error is not None
    assert "cannot connect" in client.stats.last_error
    await client.close()
    async with asyncio.timeout(5):
        await task
    fake.conns.clear()
    fake.server = await asyncio.start_server(fake._serve, "127.0.0.1", 0)
