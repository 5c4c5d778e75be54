"""Customer web chat state in the store (SQLite and PostgreSQL), over the real
app: a restarted node keeps assignments, the waiting line's order and the
dispositions; the agent a chat is transferred away from leaves the
conversation; ended chats are listed with their dispositions, scoped like
call history."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import chat_rig
from chat_rig import open_ws, recv, recv_type, send
from web_fakes import ADA, ALICE, BOB, SUE
from webchat_rig import Node, webchat_node
from websockets.asyncio.client import ClientConnection

from cti.web.ports import User

chat_db = chat_rig.chat_db  # the fixture (SQLite and PostgreSQL)


async def start(node: Node) -> tuple[str, int]:
    async with node.customer() as http:
        r = await http.post("/api/webchat/start", json={"queue": "support", "name": "Zoé"})
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["conversation"]


async def end(node: Node, user: User, cid: int, disposition: str) -> dict[str, Any]:
    async with node.chat.http(user) as http:
        r = await http.post(f"/api/webchat/{cid}/end", json={"disposition": disposition})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def customer_view(node: Node, token: str) -> dict[str, Any]:
    async with node.customer(token) as http:
        r = await http.get("/api/webchat/messages")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def listed(node: Node, user: User, **params: str) -> list[tuple[int, str, str]]:
    async with node.chat.http(user) as http:
        r = await http.get("/api/webchat/history", params=params)
    assert r.status_code == 200, r.text
    return [(c["conversation"], c["agent"], c["disposition"]) for c in r.json()["chats"]]


async def frames(ws: ClientConnection, kinds: set[str]) -> dict[str, dict[str, Any]]:
    """The first frame of each of `kinds`, in whatever order they come."""
    found: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(3):
        while set(found) != kinds:
            frame = await recv(ws)
            if frame.get("type") in kinds:
                found.setdefault(frame["type"], frame)
    return found


async def test_a_restart_keeps_assignments_the_waiting_line_and_dispositions(
    chat_db: str,
) -> None:
    async with webchat_node(chat_db, max_per_agent=1) as node, open_ws(node.chat, ALICE) as alice:
        node.state.states["PJSIP/1002"] = "on_call"  # bob takes nothing
        done_token, done = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == done
        ended = await end(node, ALICE, done, "callback")
        assert (ended["state"], ended["disposition"], ended["queue"]) == (
            "ended",
            "callback",
            "support",
        )
        kept_token, kept = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == kept
        first_token, first = await start(node)  # alice is full, bob busy: both wait
        second_token, second = await start(node)
        assert [c.conversation_id for c in node.webchat.book.waiting()] == [first, second]
    # a new node on the same database: nothing in memory survived but the store
    async with webchat_node(chat_db, max_per_agent=1) as node:
        assert node.webchat.book.get(kept) is None
        view = await customer_view(node, kept_token)
        assert (view["state"], view["agent"]) == ("assigned", "Alice")
        for token in (first_token, second_token):
            assert (await customer_view(node, token))["state"] == "waiting"
        view = await customer_view(node, done_token)
        assert view["state"] == "ended"
        async with node.customer(done_token) as http:
            r = await http.post("/api/webchat/messages", json={"text": "hello?"})
            assert (r.status_code, r.json()["code"]) == (403, "not_allowed")
        assert await listed(node, ALICE) == [(done, "alice", "callback")]
        async with open_ws(node.chat, ALICE) as alice, open_ws(node.chat, BOB) as bob:
            # alice still has `kept` (full at 1): bob, free, gets the oldest waiting chat
            await node.webchat.route()
            assert (await recv_type(bob, "chat_offer"))["conversation"] == first
            assert [c.conversation_id for c in node.webchat.book.waiting()] == [second]
            # and `kept` is still alice's to end
            await send(
                alice, type="webchat_end", id="e1", conversation=kept, disposition="resolved"
            )
            got = await frames(alice, {"webchat_result", "chat_offer"})
            result = got["webchat_result"]
            assert (result["ok"], result["disposition"]) == (True, "resolved"), result
            # the end freed her: the next waiting chat is offered (before the answer)
            assert got["chat_offer"]["conversation"] == second


async def test_the_agent_a_chat_is_transferred_away_from_can_no_longer_read_or_post(
    chat_db: str,
) -> None:
    async with (
        webchat_node(chat_db) as node,
        open_ws(node.chat, ALICE) as alice,
        open_ws(node.chat, BOB) as bob,
    ):
        node.state.states["PJSIP/1002"] = "on_call"
        token, cid = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == cid
        async with node.customer(token) as http:
            assert (
                await http.post("/api/webchat/messages", json={"text": "hi"})
            ).status_code == 201
        messages = f"/api/chat/conversations/{cid}/messages"
        async with node.chat.http(ALICE) as http:
            assert (await http.get(messages)).status_code == 200
        node.state.states["PJSIP/1002"] = "available"
        async with node.chat.http(ALICE) as http:
            r = await http.post(f"/api/webchat/{cid}/transfer", json={"agent": "bob"})
            assert (r.status_code, r.json()["agent_login"]) == (200, "bob"), r.text
            assert (await recv_type(bob, "chat_offer"))["conversation"] == cid
            for method, body in (("GET", None), ("POST", {"text": "one more thing"})):
                r = await http.request(method, messages, json=body)
                assert (r.status_code, r.json()["code"]) == (403, "not_member"), method
            mine = [c["id"] for c in (await http.get("/api/chat/conversations")).json()]
            assert cid not in mine
        await send(alice, type="chat_send", id="a1", conversation=cid, text="still there?")
        refused = await recv_type(alice, "chat_error")
        assert (refused["status"], refused["code"]) == (403, "not_member")
        async with node.chat.http(BOB) as http:
            page = (await http.get(messages)).json()
            assert [m["text"] for m in page["messages"]] == ["hi"]
            # back to the queue: bob leaves too; alice (not the one who sent it) gets it
            r = await http.post(f"/api/webchat/{cid}/transfer", json={"queue": "support"})
            assert (r.status_code, r.json()["agent_login"]) == (200, "alice"), r.text
            assert (await http.get(messages)).status_code == 403
        async with node.chat.http(ALICE) as http:
            assert (await http.get(messages)).status_code == 200
        conversation = await node.chat.store.chat_conversation(cid)
        assert conversation is not None
        assert [m.login for m in conversation.members if not m.login.startswith("customer.")] == [
            "alice"
        ]


async def test_ended_chats_are_listed_with_dispositions_by_scope(chat_db: str) -> None:
    async with (
        webchat_node(chat_db) as node,
        open_ws(node.chat, ALICE) as alice,
        open_ws(node.chat, BOB) as bob,
    ):
        node.state.states["PJSIP/1002"] = "on_call"
        _, hers = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == hers
        await end(node, ALICE, hers, "resolved")
        node.state.states["PJSIP/1001"] = "on_call"
        node.state.states["PJSIP/1002"] = "available"
        _, his = await start(node)
        assert (await recv_type(bob, "chat_offer"))["conversation"] == his
        await end(node, BOB, his, "callback")
        _, still_open = await start(node)
        assert (await recv_type(bob, "chat_offer"))["conversation"] == still_open
        # a billing chat (not one of Sue's queues), ended by carl, written as the service would
        store = node.chat.store
        at = datetime.now(UTC)
        _, record = await store.webchat_open("webchat:billing", "Max", "customer.x", "billing", at)
        chat = dataclasses.replace(record.state(), agent="carl", agent_name="Carl")
        assert await store.webchat_save(chat, "assigned", at, join=["carl"])
        chat = dataclasses.replace(chat, ended=True, disposition="escalated", version=1)
        assert await store.webchat_save(chat, "ended", at)
        billing = record.conversation_id

        mine = (hers, "alice", "resolved")
        bobs = (his, "bob", "callback")
        carls = (billing, "carl", "escalated")
        assert await listed(node, ALICE) == [mine]
        assert await listed(node, BOB) == [bobs]
        assert await listed(node, SUE) == [bobs, mine]  # support is hers, billing is not
        assert await listed(node, ADA) == [carls, bobs, mine]  # newest end first
        assert await listed(node, ADA, queue="billing") == [carls]
        assert await listed(node, ADA, agent="alice") == [mine]
        assert await listed(node, SUE, agent="carl") == []
        assert await listed(node, ADA, limit="1", offset="1") == [bobs]
        async with node.chat.http(ADA) as http:
            r = await http.get("/api/webchat/history", params={"from": "yesterday"})
            assert (r.status_code, r.json()["field"]) == (422, "from")
            (first, *_) = (await http.get("/api/webchat/history")).json()["chats"]
            assert first["ended_at"] is not None
            assert first["customer_name"] == "Max"
            assert "customer" not in first  # the customer login names the token's nonce
        async with node.customer("not-a-login-token") as http:
            assert (await http.get("/api/webchat/history")).status_code == 401
