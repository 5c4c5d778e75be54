"""Customer web chats count toward occupancy, through the real web chat service:
a chat assigned to Alice by routing and ended over REST turns her available
time into contact time on the queue board (docs/metrics.md), and a restarted
node that reads her open chat back counts it again.

Real app and store (SQLite and PostgreSQL); the hook is wired as cti.app
wires it (`chat_load_hook`), with a clock the test moves.
"""

from __future__ import annotations

import chat_rig
from chat_rig import Clock, open_ws, recv_type
from web_fakes import ALICE
from webchat_rig import Node, webchat_node

from cti.ids import Interface, QueueName
from cti.metrics import QueueMetrics
from cti.model.outputs import AgentStateChanged
from cti.web.chat_load import chat_load_hook

chat_db = chat_rig.chat_db  # the fixture (SQLite and PostgreSQL)
T0 = 1_795_860_000.0  # a minute boundary
DEVICE = ALICE.interface or ""


def available(at: float) -> AgentStateChanged:
    """The model's word that Alice (support) is available from `at`."""
    return AgentStateChanged(
        Interface(DEVICE), "Alice", "available", None, (QueueName("support"),), at, at
    )


async def start(node: Node) -> int:
    async with node.customer() as http:
        r = await http.post("/api/webchat/start", json={"queue": "support"})
    assert r.status_code == 201, r.text
    return int(r.json()["conversation"])


async def test_chats_held_turn_available_time_into_contact(chat_db: str) -> None:
    clock = Clock(T0)
    metrics = QueueMetrics()
    metrics.apply(available(T0))
    async with webchat_node(chat_db) as node, open_ws(node.chat, ALICE) as alice:
        node.webchat.on_change = chat_load_hook(metrics, clock=clock)
        times: dict[str, float] = {}
        clock.now = times["first"] = T0 + 10
        first = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == first
        clock.now = T0 + 40
        second = await start(node)  # her second chat: no change of her time's kind
        assert (await recv_type(alice, "chat_offer"))["conversation"] == second
        async with node.chat.http(ALICE) as http:
            clock.now = T0 + 70
            r = await http.post(f"/api/webchat/{first}/end", json={"disposition": "resolved"})
            assert r.status_code == 200, r.text
            clock.now = times["last"] = T0 + 100
            r = await http.post(f"/api/webchat/{second}/end", json={"disposition": "resolved"})
            assert r.status_code == 200, r.text
    now = T0 + 120
    today = metrics.board("support", now).today
    contact = times["last"] - times["first"]  # at least one chat open
    assert today.contact_seconds == contact
    assert today.idle_seconds == (now - T0) - contact
    assert today.occupancy == round(100 * contact / (now - T0), 3)


async def test_a_restarted_node_counts_the_open_chats_it_reads_back(chat_db: str) -> None:
    async with webchat_node(chat_db) as node, open_ws(node.chat, ALICE) as alice:
        cid = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == cid
    # a new process on the same database: Alice still has the chat
    clock = Clock(T0 + 30)
    metrics = QueueMetrics()
    metrics.apply(available(T0))
    async with webchat_node(chat_db) as node:
        node.webchat.on_change = chat_load_hook(metrics, clock=clock)
        await node.webchat.restore()
        held = node.webchat.book.get(cid)
        assert held is not None
        assert held.agent == "alice"
    today = metrics.board("support", T0 + 50).today
    # idle until the restart read her chat back, contact since (time before it
    # was already counted as idle by the time the chat became known)
    assert (today.idle_seconds, today.contact_seconds) == (30.0, 20.0)
