"""The fake Asterisk over a real socket, driven by a raw asyncio AMI client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sim_tools import parse, real_events
from trace_paths import TRACES

from cti.ami.lists import ListCollector
from cti.ami.protocol import AmiParser, Banner, Event, Message, Response, encode_action
from cti.sim import FakeAsterisk, Scenario
from cti.sim.ami_server import LAB_AGENTS, LAB_QUEUES
from cti.sim.calls import CallFlow

TIMEOUT = 3.0


class Client:
    """A minimal AMI client: write actions, read parsed messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = AmiParser()
        self.inbox: list[Message] = []
        self.n = 0

    @classmethod
    async def connect(cls, fa: FakeAsterisk) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", fa.port)
        return cls(reader, writer)

    def send(self, action: str, **fields: str) -> str:
        self.n += 1
        aid = f"{action.lower()}-{self.n}"
        self.writer.write(encode_action(action, aid, fields))
        return aid

    async def next(self, wait: float = TIMEOUT) -> Message:
        async with asyncio.timeout(wait):
            while not self.inbox:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError
                self.inbox += self.parser.feed(data)
        return self.inbox.pop(0)

    async def until(self, pred: Callable[[Message], bool], wait: float = TIMEOUT) -> list[Message]:
        """Messages up to and including the first for which pred(msg) is true."""
        out: list[Message] = []
        async with asyncio.timeout(wait):
            while True:
                msg = await self.next(wait)
                out.append(msg)
                if pred(msg):
                    return out

    async def event(self, name: str) -> Event:
        """Skip to the next event named `name`."""
        last = (await self.until(lambda m: isinstance(m, Event) and m.name == name))[-1]
        assert isinstance(last, Event)
        return last

    async def response(self) -> Response:
        last = (await self.until(lambda m: isinstance(m, Response)))[-1]
        assert isinstance(last, Response)
        return last

    async def login(self, secret: str = "cti-secret") -> list[Message]:
        banner = await self.next()
        assert banner == Banner("11.0.0")
        aid = self.send("Login", Username="cti", Secret=secret)
        first = await self.next()
        assert isinstance(first, Response)
        assert first.action_id == aid
        if first.status != "Success":
            return [first]
        rest = await self.until(lambda m: isinstance(m, Event) and m.name == "SuccessfulAuth")
        return [first, *rest]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def fa() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk(epoch=1_795_860_134.0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _recorded_login_frames() -> list[tuple[str, tuple[str, ...]]]:
    with (TRACES / "queue_answered.jsonl").open() as fh:
        lines = [json.loads(x) for x in fh][1:4]
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    out: list[tuple[str, tuple[str, ...]]] = []
    for obj in lines:
        for m in parser.feed(obj["raw"].encode()):
            assert isinstance(m, Event | Response)
            out.append((m.name if isinstance(m, Event) else m.status, tuple(m.fields)))
    return out


async def test_login_frames_have_the_recorded_shape(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    got = await client.login()
    shapes = []
    for m in got:
        assert isinstance(m, Event | Response)
        shapes.append((m.name if isinstance(m, Event) else m.status, tuple(m.fields)))
    assert shapes == _recorded_login_frames()
    assert isinstance(got[0], Response)
    assert got[0].message == "Authentication accepted"
    assert (fa.connections_total, fa.logins_total, fa.logged_in) == (1, 1, 1)
    await client.close()


async def test_bad_login_and_actions_before_login(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    [resp] = await client.login(secret="wrong")
    assert isinstance(resp, Response)
    assert (resp.status, resp.message) == ("Error", "Authentication failed")
    client.send("Ping")
    denied = await client.next()
    assert isinstance(denied, Response)
    assert denied.status == "Error"
    assert fa.failed_logins == 1
    assert fa.logins_total == 0
    await client.close()


async def test_ping_logoff_and_unknown_action(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    aid = client.send("Ping")
    pong = await client.next()
    assert isinstance(pong, Response)
    assert pong.action_id == aid
    assert list(pong.fields) == ["ActionID", "Ping", "Timestamp"]
    assert pong.fields["Ping"] == "Pong"
    assert abs(float(pong.fields["Timestamp"]) - time.time()) < 5
    client.send("NoSuchThing")
    err = await client.next()
    assert isinstance(err, Response)
    assert (err.status, err.message) == ("Error", "Invalid/unknown command")
    client.send("Logoff")
    bye = await client.next()
    assert isinstance(bye, Response)
    assert bye.status == "Goodbye"
    with pytest.raises(EOFError):
        await client.next()
    await client.close()


def _snapshot_shapes() -> dict[str, set[tuple[str, ...]]]:
    """Header names of every list frame in snapshot_mid_call.jsonl (after login)."""
    shapes: dict[str, set[tuple[str, ...]]] = {}
    parser = AmiParser()
    with (TRACES / "snapshot_mid_call.jsonl").open() as fh:
        for line in fh:
            for m in parser.feed(json.loads(line)["raw"].encode()):
                if isinstance(m, Event) and m.action_id:
                    shapes.setdefault(m.name, set()).add(tuple(m.fields))
                elif isinstance(m, Response) and (m.action_id or "").startswith("snap"):
                    shapes.setdefault("Response", set()).add(tuple(m.fields))
    return shapes


async def _collect(client: Client, action: str, **fields: str) -> tuple[Response, list[Event]]:
    collector = ListCollector()
    aid = client.send(action, **fields)
    collector.expect(action, aid)
    async with asyncio.timeout(TIMEOUT):
        while True:
            _, result = collector.feed(await client.next())
            if result is not None:
                assert result.complete is not None
                return result.response, [*result.items, result.complete]


async def _mid_call(fa: FakeAsterisk, client: Client, last: str, occurrence: int = 1) -> None:
    """Stepped traffic up to (and including) the `occurrence`-th frame named `last`."""
    fa.start_traffic(stepped=True)
    fa.place_call(CallFlow(agents=("PJSIP/1001",), talk_time=10.0))
    head = f"Event: {last}\r\n".encode()
    for _ in range(occurrence):
        async with asyncio.timeout(TIMEOUT):
            while True:
                [frame] = await fa.step(1)
                if frame.startswith(head):
                    break
        await client.until(lambda m: isinstance(m, Event) and m.name == last)


async def test_list_actions_mid_call_have_the_snapshot_shapes(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    await _mid_call(fa, client, "BridgeEnter", occurrence=2)
    shapes = _snapshot_shapes()
    seen: set[str] = set()
    for action in (
        "CoreShowChannels",
        "QueueStatus",
        "QueueSummary",
        "BridgeList",
        "DeviceStateList",
    ):
        response, items = await _collect(client, action)
        assert tuple(response.fields) in shapes["Response"], action
        for item in items:
            assert tuple(item.fields) in shapes[item.name], (action, item.name)
            seen.add(item.name)
        if action == "CoreShowChannels":
            chans = {i.fields.get("Channel"): i for i in items[:-1]}
            assert set(chans) == {"PJSIP/pstn-00000000", "PJSIP/1001-00000001"}
            agent = chans["PJSIP/1001-00000001"]
            assert agent.fields["Application"] == "AppQueue"
            assert agent.fields["Linkedid"] == "1795860134.0"
            assert agent.fields["BridgeId"] != ""
        if action == "BridgeList":
            assert items[0].fields["BridgeNumChannels"] == "2"
        if action == "QueueStatus":
            alice = next(i for i in items if i.fields.get("Location") == "PJSIP/1001")
            assert (alice.fields["Status"], alice.fields["InCall"]) == ("2", "1")
    assert seen >= {
        "CoreShowChannel",
        "QueueParams",
        "QueueMember",
        "QueueSummary",
        "BridgeListItem",
        "DeviceStateChange",
    }
    await client.close()


async def test_queue_entry_while_a_caller_waits(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    await _mid_call(fa, client, "QueueCallerJoin")
    _, items = await _collect(client, "QueueStatus", Queue="support")
    [entry] = [i for i in items if i.name == "QueueEntry"]
    assert list(entry.fields) == [
        "Queue",
        "Position",
        "Channel",
        "Uniqueid",
        "CallerIDNum",
        "CallerIDName",
        "ConnectedLineNum",
        "ConnectedLineName",
        "Wait",
        "Priority",
        "ActionID",
    ]
    assert entry.fields["CallerIDNum"] == "15551230001"
    _, summary = await _collect(client, "QueueSummary", Queue="support")
    assert summary[0].fields["Callers"] == "1"
    await client.close()


async def test_bridge_list_item_without_action_id_option() -> None:
    async with FakeAsterisk(bridge_item_action_id=False) as fa:
        client = await Client.connect(fa)
        await client.login()
        await _mid_call(fa, client, "BridgeEnter")
        client.send("BridgeList")
        msgs = await client.until(lambda m: isinstance(m, Event) and m.name == "BridgeListComplete")
        item = next(m for m in msgs if isinstance(m, Event) and m.name == "BridgeListItem")
        assert "ActionID" not in item.fields
        await client.close()


async def test_member_actions_answer_then_broadcast(fa: FakeAsterisk) -> None:
    client, other = await Client.connect(fa), await Client.connect(fa)
    await client.login()
    await other.login()
    await client.until(lambda m: isinstance(m, Event) and m.name == "SuccessfulAuth")  # other's
    real = {e.name: tuple(e.fields) for e in real_events("agent_state.jsonl")}
    cases = [
        (
            "QueuePause",
            {"Interface": "PJSIP/1001", "Paused": "true", "Queue": "support", "Reason": "lunch"},
            "QueueMemberPause",
            "Interface paused successfully",
        ),
        (
            "QueueAdd",
            {"Queue": "support", "Interface": "PJSIP/1003", "MemberName": "Carol Supervisor"},
            "QueueMemberAdded",
            "Added interface to queue",
        ),
        (
            "QueueRemove",
            {"Queue": "support", "Interface": "PJSIP/1003"},
            "QueueMemberRemoved",
            "Removed interface from queue",
        ),
    ]
    for action, fields, event, message in cases:
        aid = client.send(action, **fields)
        resp = await client.next()
        assert isinstance(resp, Response)
        assert (resp.action_id, resp.status, resp.message) == (aid, "Success", message)
        for c in (client, other):
            got = await c.event(event)
            assert tuple(got.fields) == real[event]
    client.send("QueueRemove", Queue="support", Interface="PJSIP/1003")
    err = await client.next()
    assert isinstance(err, Response)
    assert (err.status, err.message) == ("Error", "Unable to remove interface: Not there")
    await client.close()
    await other.close()


async def test_originate_sends_the_click_to_dial_sequence(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    aid = client.send(
        "Originate",
        Channel="PJSIP/1001",
        Exten="95551234",
        Context="from-agents",
        Priority="1",
        Variable="CTI_ORIGIN=click-to-dial",
        Async="true",
    )
    resp = await client.next()
    assert isinstance(resp, Response)
    assert (resp.action_id, resp.message) == (aid, "Originate successfully queued")
    msgs = await client.until(lambda m: isinstance(m, Event) and m.name == "OriginateResponse")
    names = [m.name for m in msgs if isinstance(m, Event)]
    real = [e.name for e in real_events("click_to_dial.jsonl")]
    assert names == real[: real.index("OriginateResponse") + 1]
    last = msgs[-1]
    assert isinstance(last, Event)
    assert last.fields["ActionID"] == aid
    await client.close()


async def test_hangup_action_ends_a_talking_call(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    await _mid_call(fa, client, "BridgeEnter")
    client.send("Hangup", Channel="PJSIP/1001-00000001")
    resp = await client.response()
    assert resp.status == "Success"
    frames: list[bytes] = []
    while chunk := await fa.step(50):
        frames += chunk
    done = next(f for f in frames if f.startswith(b"Event: AgentComplete"))
    assert b"Reason: agent\r\n" in done
    client.send("Hangup", Channel="PJSIP/nope-00000000")
    err = await client.response()
    assert err.message == "No such channel"
    await client.close()


async def test_drop_connections_and_reconnect(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    fa.drop_connections()
    with pytest.raises((EOFError, ConnectionError)):
        await client.next()
    again = await Client.connect(fa)
    await again.login()
    assert fa.connections_total == 2
    assert fa.logins_total == 2
    await again.close()


async def test_silent_peer_answers_nothing(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    fa.set_silent(True)
    client.send("Ping")
    with pytest.raises(TimeoutError):
        await client.next(wait=0.2)
    fa.set_silent(False)
    client.send("Ping")
    pong = await client.next()
    assert isinstance(pong, Response)
    assert pong.fields["Ping"] == "Pong"
    await client.close()


async def test_play_trace_fast_sends_every_event_in_order(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    sent = await fa.play_trace(TRACES / "queue_answered.jsonl", speed=None)
    msgs = await client.until(
        lambda m: (
            isinstance(m, Event)
            and m.name == "DeviceStateChange"
            and m.fields["State"] == "UNAVAILABLE"
        )
    )
    real = real_events("queue_answered.jsonl")
    got = [m for m in msgs if isinstance(m, Event) and m.name not in ("RTCPSent", "RTCPReceived")]
    assert [e.name for e in got] == [e.name for e in real]
    assert sent == sum(1 for m in msgs if isinstance(m, Event))
    assert not fa.state.channels  # the replayed call ended in the state too
    await client.close()


async def test_play_trace_keeps_scaled_timing(fa: FakeAsterisk) -> None:
    client = await Client.connect(fa)
    await client.login()
    start = asyncio.get_running_loop().time()
    await fa.play_trace(TRACES / "agent_state.jsonl", speed=20.0)
    elapsed = asyncio.get_running_loop().time() - start
    assert 0.25 <= elapsed < 1.5  # the recording spans about 6.1 s
    msgs = await client.until(lambda m: isinstance(m, Event) and m.name == "QueueMemberRemoved")
    assert [m.name for m in msgs if isinstance(m, Event) and m.name != "SuccessfulAuth"] == [
        e.name for e in real_events("agent_state.jsonl")
    ]
    await client.close()


async def test_realtime_traffic_reaches_every_client(fa: FakeAsterisk) -> None:
    clients = [await Client.connect(fa) for _ in range(2)]
    for c in clients:
        await c.login()
    fa.start_traffic(
        Scenario(
            agents=LAB_AGENTS,
            queues=LAB_QUEUES,
            rate=20.0,
            ivr_time_scale=0.0,
            talk_time=(0.05, 0.1),
            ring_time=(0.0, 0.0),
            p_answer=1.0,
            p_ring_no_answer=0.0,
            p_abandon=0.0,
            p_internal=0.0,
            max_calls=3,
        )
    )
    for c in clients:
        msgs = await c.until(lambda m: isinstance(m, Event) and m.name == "AgentComplete")
        called = [m for m in msgs if isinstance(m, Event) and m.name == "AgentCalled"]
        assert called
        assert called[0].fields["Queue"] in ("support", "sales")
        await c.close()
    fa.stop_traffic()


@pytest.mark.parametrize("cut", [1, 30, 55, 62, 80, 100])
async def test_stepped_drop_at_an_exact_frame(cut: int) -> None:
    """Cut the socket after exactly `cut` frames; a new session sees the rest."""
    async with FakeAsterisk(epoch=1_795_860_134.0) as fa:
        client = await Client.connect(fa)
        await client.login()
        fa.start_traffic(stepped=True)
        fa.place_call(CallFlow(agents=("PJSIP/1001",)))
        sent = await fa.step(cut)
        assert len(sent) == cut
        fa.drop_connections()
        again = await Client.connect(fa)
        await again.login()
        _, items = await _collect(again, "CoreShowChannels")
        listed = {i.fields["Channel"] for i in items if i.name == "CoreShowChannel"}
        alive: set[str] = set()  # what the frames sent so far say is up
        for e in parse(sent):
            if e.name == "Newchannel":
                alive.add(e.fields["Channel"])
            elif e.name == "Hangup":
                alive.discard(e.fields["Channel"])
        assert listed == alive
        rest: list[bytes] = []
        while chunk := await fa.step(64):
            rest += chunk
        got = await again.until(
            lambda m: (
                isinstance(m, Event)
                and m.fields.get("Device") == "PJSIP/pstn"
                and m.fields.get("State") == "UNAVAILABLE"
            )
        )
        assert len([m for m in got if isinstance(m, Event) and m.name != "RTCPSent"]) == len(rest)
        await again.close()
        await client.close()
