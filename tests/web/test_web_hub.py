"""The hub on its own: routing, numbering, replay, resync and slow clients.

Connections are pumped into fake senders (lists, or a send that never
returns), so every ordering claim is checked without sockets or timing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from web_fakes import ADA, ALICE, BOB, SUE

from cti.ids import CallId, ChannelId, Interface
from cti.model.outputs import ScreenPop
from cti.web.hub import CLOSE_TOO_SLOW, Connection, Hub, frame


def pop(interface: str, n: int) -> dict[str, Any]:
    return {"type": "screen_pop", "interface": interface, "call_id": f"call-{n}"}


def drain(conn: Connection) -> list[dict[str, Any]]:
    """Everything queued on `conn` so far, decoded (the pump's view, without a socket)."""
    out: list[dict[str, Any]] = []
    while conn.pending:
        out.append(json.loads(conn._pending.popleft()))
    return out


def numbered(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events if "seq" in e and e["type"] not in ("hello", "resync")]


def test_pops_reach_only_the_agent_with_that_interface() -> None:
    hub = Hub()
    alice, bob, sue = hub.attach(ALICE), hub.attach(BOB), hub.attach(SUE)
    for conn in (alice, bob, sue):
        assert drain(conn)[0]["type"] == "hello"
    hub.publish_to_interface("PJSIP/1002", pop("PJSIP/1002", 1))
    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", 2))
    assert [e["call_id"] for e in drain(alice)] == ["call-2"]
    assert [e["call_id"] for e in drain(bob)] == ["call-1"]
    assert drain(sue) == []
    hub.publish_to_interface("PJSIP/9999", pop("PJSIP/9999", 3))
    assert hub.stats.undelivered == 1


def test_role_feed_reaches_supervisors_and_admins_not_agents() -> None:
    hub = Hub()
    alice, sue, ada = hub.attach(ALICE), hub.attach(SUE), hub.attach(ADA)
    for conn in (alice, sue, ada):
        drain(conn)
    hub.publish_to_role("supervisor", {"type": "agent_state", "interface": "PJSIP/1001"})
    assert drain(alice) == []
    assert [e["type"] for e in drain(sue)] == ["agent_state"]
    assert [e["type"] for e in drain(ada)] == ["agent_state"]


def test_hello_and_envelope() -> None:
    hub = Hub(stream_id="epoch1")
    conn = hub.attach(ALICE)
    hello = drain(conn)[0]
    assert hello == {
        "type": "hello",
        "user": {
            "login": "alice",
            "display_name": "Alice",
            "role": "agent",
            "interface": "PJSIP/1001",
        },
        "stream_id": "epoch1",
        "seq": 0,
        "replaying": 0,
    }
    hub.publish_to_interface("PJSIP/1001", {"type": "x", "name": "José"})
    assert drain(conn) == [{"seq": 1, "stream_id": "epoch1", "type": "x", "name": "José"}]
    assert frame(7, "e", "{}") == '{"seq":7,"stream_id":"e"}'
    with pytest.raises(ValueError, match="reserved"):
        hub.publish_to_interface("PJSIP/1001", {"type": "x", "seq": 3})


def test_each_user_has_own_sequence_and_tabs_share_it() -> None:
    hub = Hub()
    tab1, tab2, bob = hub.attach(ALICE), hub.attach(ALICE), hub.attach(BOB)
    for n in range(3):
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", n))
    hub.publish_to_interface("PJSIP/1002", pop("PJSIP/1002", 9))
    assert numbered(drain(tab1)) == [1, 2, 3]
    assert numbered(drain(tab2)) == [1, 2, 3]
    assert numbered(drain(bob)) == [1]


def test_payload_is_encoded_once_per_publish() -> None:
    hub = Hub()
    hub.attach(SUE)
    hub.attach(ADA)
    hub.publish_to_role("supervisor", {"type": "queue_state", "queue": "support"})
    bodies = [stream.ring[-1][1] for stream in hub._streams.values()]
    assert len(bodies) == 2
    assert bodies[0] is bodies[1]  # one json.dumps shared by every recipient


def test_several_interfaces_share_one_encoding_and_one_seq_each() -> None:
    hub = Hub()
    alice, bob, sue = hub.attach(ALICE), hub.attach(BOB), hub.attach(SUE)
    for conn in (alice, bob, sue):
        drain(conn)
    payload = {"type": "call_answered", "call_id": "call-1", "interface": "PJSIP/1002"}
    # Alice listed twice: she still gets it once
    hub.publish_to_interfaces(["PJSIP/1001", "PJSIP/1002", "PJSIP/1001"], payload)
    assert [e["call_id"] for e in drain(alice)] == ["call-1"]
    assert [e["call_id"] for e in drain(bob)] == ["call-1"]
    assert drain(sue) == []
    bodies = [s.ring[-1][1] for s in hub._streams.values() if s.ring]
    assert len(bodies) == 2
    assert bodies[0] is bodies[1]
    hub.publish_to_interfaces(["PJSIP/9999"], payload)
    assert hub.stats.undelivered == 1


def test_events_published_while_offline_are_replayed_exactly() -> None:
    hub = Hub(replay_window=100)
    hub.register(ALICE)  # at login, before the socket opens
    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", 1))
    first = hub.attach(ALICE, since=0, stream_id=hub.stream_id)
    events = drain(first)
    assert events[0]["type"] == "hello"
    assert events[0]["replaying"] == 1
    assert numbered(events) == [1]
    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", 2))
    last_seen = numbered(drain(first))[-1]
    assert last_seen == 2
    hub.detach(first)  # the socket drops...
    for n in range(3, 8):  # ...while pops keep coming
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", n))
    again = hub.attach(ALICE, since=last_seen, stream_id=hub.stream_id)
    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", 8))  # live, after the replay
    events = drain(again)
    assert events[0]["type"] == "hello"
    assert numbered(events) == [3, 4, 5, 6, 7, 8]
    assert [e["call_id"] for e in events[1:]] == [f"call-{n}" for n in range(3, 9)]


@pytest.mark.parametrize(
    ("since", "stream_id", "reason"),
    [
        (2, None, "since_too_old"),  # window holds 6..10 only
        (4, "epoch1", "since_too_old"),
        (11, "epoch1", "since_ahead"),
        (9, "an-older-run", "stream_changed"),
    ],
)
def test_unservable_since_gets_resync_then_live(
    since: int, stream_id: str | None, reason: str
) -> None:
    hub = Hub(replay_window=5, stream_id="epoch1")
    hub.register(ALICE)
    for n in range(10):
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", n))
    conn = hub.attach(ALICE, since=since, stream_id=stream_id)
    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", 10))
    events = drain(conn)
    assert [e["type"] for e in events] == ["hello", "resync", "screen_pop"]
    assert events[1] == {"type": "resync", "stream_id": "epoch1", "seq": 10, "reason": reason}
    assert events[2]["seq"] == 11


def test_oldest_servable_since_replays_whole_window() -> None:
    hub = Hub(replay_window=5)
    hub.register(ALICE)
    for n in range(10):
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", n))
    assert numbered(drain(hub.attach(ALICE, since=5))) == [6, 7, 8, 9, 10]
    assert numbered(drain(hub.attach(ALICE, since=10))) == []


async def test_slow_client_is_dropped_without_blocking_others() -> None:
    hub = Hub(send_queue=16)
    fast, slow = hub.attach(ALICE), hub.attach(ALICE)
    received: list[str] = []
    stuck = asyncio.Event()

    async def fast_send(text: str) -> None:
        received.append(text)

    async def slow_send(text: str) -> None:
        await stuck.wait()  # a client that never reads: its socket buffer is full

    pumps = [asyncio.create_task(fast.pump(fast_send)), asyncio.create_task(slow.pump(slow_send))]
    for n in range(100):
        hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", n))
        if n % 8 == 0:
            await asyncio.sleep(0)  # let the pumps run, as the event loop would
    await asyncio.sleep(0)
    assert slow.closed.is_set()
    assert slow.close_code == CLOSE_TOO_SLOW
    assert hub.stats.slow_disconnects == 1
    assert numbered([json.loads(t) for t in received]) == list(range(1, 101))
    assert hub.connection_count == 1
    # The dropped client comes back with since and gets what it missed.
    back = hub.attach(ALICE, since=1)
    assert numbered(drain(back)) == list(range(2, 101))
    for task in pumps:
        task.cancel()
    await asyncio.gather(*pumps, return_exceptions=True)


def test_interface_change_moves_the_stream() -> None:
    hub = Hub()
    conn = hub.attach(ALICE)
    drain(conn)
    moved = type(ALICE)("alice", "Alice", "agent", "PJSIP/2001")
    hub.register(moved)
    hub.publish_to_interface("PJSIP/1001", pop("PJSIP/1001", 1))
    hub.publish_to_interface("PJSIP/2001", pop("PJSIP/2001", 2))
    assert [e["call_id"] for e in drain(conn)] == ["call-2"]


def test_real_model_output_goes_through() -> None:
    hub = Hub()
    conn = hub.attach(ALICE)
    drain(conn)
    out = ScreenPop(
        call_id=CallId("1700000000.1"),
        interface=Interface("PJSIP/1001"),
        agent_channel=ChannelId("1700000000.2"),
        caller_number="15551230001",
        caller_name="José",
        dialed_number="5000",
        queue=None,
        waited_seconds=None,
        ivr_path=(),
        variables=(("CTI_LANG", "fr"),),
        account=None,
        at=1.0,
    )
    hub.publish_to_interface(out.interface, out.to_json())
    (event,) = drain(conn)
    assert event["type"] == "screen_pop"
    assert event["caller_name"] == "José"
    assert event["variables"] == {"CTI_LANG": "fr"}


def test_shutdown_closes_everyone() -> None:
    hub = Hub()
    conns = [hub.attach(ALICE), hub.attach(SUE)]
    hub.shutdown()
    assert all(c.closed.is_set() and c.close_code == 1001 for c in conns)
    assert hub.connection_count == 0
