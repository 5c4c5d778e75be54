"""Chat presence pushed live (`chat_presence`): to those who may see the person only,
on change only, driven by the model's agent states and by sockets opening/closing.

The end-to-end tests run the real app over a real store (SQLite and PostgreSQL)
with the real pure model behind an engine; agent states change the way
Asterisk tells them (QueueMemberPause -> `MemberUpdated` into the model).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import chat_rig
from chat_rig import ChatNode, Clock, nothing_more, open_ws, recv, serve_on
from web_fakes import ALICE, BOB, SETTINGS, SUE, FakeUsers
from websockets.asyncio.client import ClientConnection

from cti.chat import ChatService
from cti.engine import Engine
from cti.ids import Interface, QueueName
from cti.model.events import MemberUpdated
from cti.model.model import Model
from cti.store import Store
from cti.web.adapters import ModelStateView
from cti.web.app import create_app
from cti.web.chat_presence import PresenceNotifier, with_presence
from cti.web.hub import Hub

chat_db = chat_rig.chat_db  # the fixture (SQLite and PostgreSQL)


@dataclass
class Node:
    chat: ChatNode
    engine: Engine

    async def member(self, queue: str, paused: bool, reason: str = "") -> None:
        """What AMI QueueMemberStatus/QueueMemberPause tell the model about Alice."""
        event = MemberUpdated(
            QueueName(queue), Interface(ALICE.interface or ""), "Alice", 1, paused, reason
        )
        await self.engine.apply_now(lambda m, at: m.apply(event, at))


@contextlib.asynccontextmanager
async def presence_node(url: str) -> AsyncIterator[Node]:
    """The app over the model, wired as cti.app wires it (supervisor feed + presence)."""
    users = FakeUsers()

    async def user_exists(login: str) -> bool:
        return await users.get_user(login) is not None

    hub = Hub(stream_id=uuid.uuid4().hex[:8])
    model = Model()
    async with Store(url) as store:
        chat = ChatService(store, hub, user_exists=user_exists, clock=Clock())
        app = create_app(
            users=users, state=ModelStateView(model), hub=hub, settings=SETTINGS, chat=chat
        )
        engine = Engine(model=model, publisher=hub, tick_interval=0)
        engine.on_agent_changed = with_presence(hub.publish_about_agent, app.state.presence)
        async with serve_on(app, 0) as base:
            yield Node(ChatNode(store, hub, chat, base), engine)
            await app.state.presence.aclose()


async def next_presence(ws: ClientConnection, wait: float = 3.0) -> dict[str, Any]:
    async with asyncio.timeout(wait):
        while True:
            frame = await recv(ws, wait)
            if frame.get("type") == "chat_presence":
                return frame


async def drain(ws: ClientConnection, wait: float = 0.3) -> list[dict[str, Any]]:
    """Every frame that arrives until `wait` seconds pass quietly."""
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), wait)))
    return frames


async def test_bob_sees_alices_presence_change_live_and_sue_does_not(chat_db: str) -> None:
    async with presence_node(chat_db) as node:
        async with node.chat.http(ALICE) as http:
            response = await http.post("/api/chat/direct", json={"login": "bob"})
            assert response.status_code == 200, response.text
        await node.member("support", paused=False)  # Alice is an available agent
        async with open_ws(node.chat, BOB) as bob, open_ws(node.chat, SUE) as sue:
            # Alice comes online: her agent state is her presence
            async with open_ws(node.chat, ALICE):
                seen = await next_presence(bob)
                assert (seen["login"], seen["presence"]) == ("alice", "available")
                # she pauses (QueueMemberPause): Bob is told, numbered like any event
                await node.member("support", paused=True, reason="lunch")
                paused = await next_presence(bob)
                assert (paused["login"], paused["presence"]) == ("alice", "paused")
                assert paused["seq"] > seen["seq"]
                assert paused["stream_id"] == node.chat.hub.stream_id
                # a change of her queues alone is no change of presence: nothing
                await node.member("sales", paused=True, reason="lunch")
                assert not [f for f in await drain(bob) if f.get("type") == "chat_presence"]
                # over REST Bob reads what the events said
                async with node.chat.http(BOB) as http:
                    (listed,) = (await http.get("/api/chat/conversations")).json()
                shown = {m["login"]: m["presence"] for m in listed["members"]}
                assert shown == {"alice": "paused", "bob": "online"}
                await node.member("support", paused=False)
                await node.member("sales", paused=False)
                back = await next_presence(bob)
                assert (back["login"], back["presence"]) == ("alice", "available")
            # her last socket closed
            gone = await next_presence(bob)
            assert (gone["login"], gone["presence"]) == ("alice", "offline")
            await nothing_more(bob, 0.3)
            # Sue shares no conversation with Alice: agent states (her supervisor
            # feed) yes, chat presence no
            frames = await drain(sue)
            assert [f["type"] for f in frames if f.get("type") == "agent_state"]
            assert [f for f in frames if f.get("type") == "chat_presence"] == []


async def test_presence_follows_team_rooms_and_sockets_without_a_phone(chat_db: str) -> None:
    async with presence_node(chat_db) as node:
        async with node.chat.http(SUE) as http:
            response = await http.post(
                "/api/chat/rooms", json={"name": "leads", "members": ["bob"]}
            )
            assert response.status_code == 201, response.text
        async with open_ws(node.chat, BOB) as bob, open_ws(node.chat, ALICE) as alice:
            async with open_ws(node.chat, SUE):
                seen = await next_presence(bob)
                # Sue has no phone: online while a socket is open
                assert (seen["login"], seen["presence"]) == ("sue", "online")
                async with open_ws(node.chat, SUE):  # a second tab changes nothing
                    await nothing_more(bob, 0.3)
                await nothing_more(bob, 0.3)  # ...nor does closing it, one is still open
            gone = await next_presence(bob)
            assert (gone["login"], gone["presence"]) == ("sue", "offline")
            # Alice is in no conversation with Sue
            assert [f for f in await drain(alice) if f.get("type") == "chat_presence"] == []


# -- the notifier alone: on change only, latest wins, store reads coalesced ----------


@dataclass
class Recorder:
    sent: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)

    def publish_to_logins(self, logins: Iterable[str], payload: Mapping[str, Any]) -> None:
        self.sent.append((list(logins), dict(payload)))


async def test_changes_during_a_store_read_send_only_the_latest_and_a_flap_sends_nothing() -> None:
    hub = Hub()
    conn = hub.attach(ALICE)  # Alice has a socket open
    gate = asyncio.Event()
    reads = 0

    async def watchers(login: str) -> list[str]:
        nonlocal reads
        reads += 1
        await gate.wait()
        return [login, "bob", "bob"]

    states = {"alice": "available"}
    delivery = Recorder()
    notifier = PresenceNotifier(
        lambda logins: {login: states.get(login, "offline") for login in logins},
        watchers,
        delivery,
        hub,
    )
    interface = ALICE.interface or ""
    notifier.sockets_changed("alice")  # offline -> available: a push starts
    notifier.agent_changed(interface, "ringing")
    notifier.agent_changed(interface, "on_call")  # while the store is read
    gate.set()
    for _ in range(50):
        await asyncio.sleep(0)
    # one event, the latest state, to Bob only (once), not to Alice herself
    assert delivery.sent == [
        (["bob"], {"type": "chat_presence", "login": "alice", "presence": "on_call"})
    ]
    assert reads == 1  # the changes during the read needed no second read
    gate.clear()
    notifier.agent_changed(interface, "wrap_up")
    notifier.agent_changed(interface, "on_call")  # back to what was pushed
    gate.set()
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(delivery.sent) == 1
    # an agent at another device: not Alice's presence
    notifier.agent_changed("PJSIP/1002", "paused")
    hub.detach(conn)
    states.clear()
    notifier.sockets_changed("alice")
    for _ in range(50):
        await asyncio.sleep(0)
    assert [p["presence"] for _, p in delivery.sent] == ["on_call", "offline"]
    await notifier.aclose()
