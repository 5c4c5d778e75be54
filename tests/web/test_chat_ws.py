"""Chat over the real app: WebSocket send/ack/deliver, receipts, resume, restarts.

Every test runs on SQLite and on PostgreSQL (`chat_db`), with uvicorn on
loopback and real `websockets` / `httpx` clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import chat_rig
from chat_rig import ChatNode, chat_node, nothing_more, open_ws, recv, recv_type, send
from web_fakes import ALICE, BOB, SUE
from websockets.asyncio.client import ClientConnection

from cti.web.hub import Hub

chat_db = chat_rig.chat_db  # the fixture (SQLite and PostgreSQL)


async def direct(node: ChatNode) -> int:
    async with node.http(ALICE) as http:
        response = await http.post("/api/chat/direct", json={"login": "bob"})
    assert response.status_code == 200, response.text
    conversation = response.json()
    assert [m["login"] for m in conversation["members"]] == ["alice", "bob"]
    return int(conversation["id"])


async def say(ws: ClientConnection, conversation: int, text: str, ref: str) -> dict[str, Any]:
    """Send over the socket and wait for this message's ack (or error)."""
    await send(ws, type="chat_send", id=ref, conversation=conversation, text=text)
    async with asyncio.timeout(3):
        while True:
            frame = await recv(ws)
            if frame["type"] in ("chat_ack", "chat_error") and frame["id"] == ref:
                return frame


async def test_alice_sends_bob_receives_after_the_ack(chat_db: str) -> None:
    async with chat_node(chat_db) as node:
        cid = await direct(node)
        async with open_ws(node, ALICE) as alice, open_ws(node, BOB) as bob:
            ack = await say(alice, cid, "hello bob", "c1")
            assert (ack["type"], ack["conversation"], ack["seq"]) == ("chat_ack", cid, 1)
            # acknowledged means committed: the store has it already
            stored = await node.store.chat_messages(cid, after=0, before=None, limit=5)
            assert [(m.seq, m.sender, m.text) for m in stored] == [(1, "alice", "hello bob")]
            got = (await recv_type(bob, "chat_message"))["message"]
            assert {k: got[k] for k in ("conversation", "seq", "from", "text")} == {
                "conversation": cid,
                "seq": 1,
                "from": "alice",
                "text": "hello bob",
            }
            assert got["at"] == ack["at"]
            # typing reaches the others only, and is not stored
            await send(bob, type="chat_typing", conversation=cid)
            typing = await recv_type(alice, "chat_typing")
            assert (typing["conversation"], typing["from"]) == (cid, "bob")
            # bob's client has it: alice gets a delivery receipt
            await send(bob, type="chat_delivered", conversation=cid, seq=1)
            delivered = await recv_type(alice, "chat_delivered")
            assert (delivered["login"], delivered["delivered_seq"]) == ("bob", 1)
            # bob reads: alice gets the receipt, and it is stored
            await send(bob, type="chat_read", conversation=cid, seq=1)
            receipt = await recv_type(alice, "chat_read")
            assert (receipt["login"], receipt["read_seq"]) == ("bob", 1)
            await nothing_more(bob)
        stored_conversation = await node.store.chat_conversation(cid)
        assert stored_conversation is not None
        bob_member = stored_conversation.member("bob")
        assert bob_member is not None
        assert (bob_member.last_read_seq, bob_member.last_delivered_seq) == (1, 1)
        assert await node.store.chat_messages(cid, after=1, before=None, limit=5) == []


async def test_non_members_get_403_on_the_socket_and_over_rest(chat_db: str) -> None:
    async with chat_node(chat_db) as node:
        cid = await direct(node)
        async with open_ws(node, SUE) as sue:
            error = await say(sue, cid, "let me in", "x1")
            assert (error["type"], error["code"], error["status"]) == (
                "chat_error",
                "not_member",
                403,
            )
            await send(sue, type="chat_resume", id="r1", conversation=cid, after_seq=0)
            error = await recv_type(sue, "chat_error")
            assert (error["id"], error["code"]) == ("r1", "not_member")
            # an id that does not exist answers the same (no probing for ids)
            error = await say(sue, 999_999, "anyone?", "x2")
            assert error["code"] == "not_member"
        async with node.http(SUE) as http:
            base = f"/api/chat/conversations/{cid}"
            for response in (
                await http.get(base),
                await http.get(f"{base}/messages"),
                await http.post(f"{base}/messages", json={"text": "hi"}),
                await http.post(f"{base}/read", json={"seq": 0}),
                await http.get("/api/chat/conversations/424242/messages"),
            ):
                assert response.status_code == 403, response.text
                assert response.json()["code"] == "not_member"
            assert (await http.get("/api/chat/conversations")).json() == []
        assert await node.store.chat_messages(cid, after=0, before=None, limit=5) == []


async def test_resume_returns_exactly_the_missing_messages(chat_db: str) -> None:
    async with chat_node(chat_db) as node:
        cid = await direct(node)
        async with open_ws(node, ALICE) as alice:
            for n in range(1, 8):
                assert (await say(alice, cid, f"m{n}", f"c{n}"))["seq"] == n
        # bob saw up to 3 before his connection dropped; he asks for the rest
        async with open_ws(node, BOB) as bob:
            await send(bob, type="chat_resume", id="r1", conversation=cid, after_seq=3, limit=2)
            first = await recv_type(bob, "chat_history")
            assert [m["seq"] for m in first["messages"]] == [4, 5]
            assert first["more"] is True
            await send(bob, type="chat_resume", id="r2", conversation=cid, after_seq=5)
            rest = await recv_type(bob, "chat_history")
            assert (rest["id"], rest["more"]) == ("r2", False)
            assert [(m["seq"], m["text"], m["from"]) for m in rest["messages"]] == [
                (6, "m6", "alice"),
                (7, "m7", "alice"),
            ]
            await nothing_more(bob)


async def test_offline_user_gets_unread_counts_then_the_messages(chat_db: str) -> None:
    async with chat_node(chat_db) as node:
        cid = await direct(node)
        async with open_ws(node, ALICE) as alice:
            for n in range(3):
                await say(alice, cid, f"while you were out {n}", f"c{n}")
        async with node.http(BOB) as http:
            (listed,) = (await http.get("/api/chat/conversations")).json()
            assert (listed["id"], listed["last_seq"], listed["unread"]) == (cid, 3, 3)
            presence = {m["login"]: m["presence"] for m in listed["members"]}
            assert presence == {"alice": "offline", "bob": "offline"}
            async with open_ws(node, BOB) as bob:
                await send(bob, type="chat_resume", id="r", conversation=cid, after_seq=0)
                page = await recv_type(bob, "chat_history")
                assert [m["text"] for m in page["messages"]] == [
                    f"while you were out {n}" for n in range(3)
                ]
                await send(bob, type="chat_read", conversation=cid, seq=3)
                for _ in range(100):  # the read mark is written by the socket's worker
                    (listed,) = (await http.get("/api/chat/conversations")).json()
                    if listed["unread"] == 0:
                        break
                    await asyncio.sleep(0.02)
                assert listed["unread"] == 0
                bob_presence = {m["login"]: m["presence"] for m in listed["members"]}["bob"]
                assert bob_presence == "ringing"  # connected: his agent state (FakeState)


async def test_a_message_acked_before_a_crash_reaches_bob_after_the_restart(chat_db: str) -> None:
    async with chat_node(chat_db) as first:
        cid = await direct(first)
        async with open_ws(first, ALICE) as alice:
            ack = await say(alice, cid, "survive this", "c1")
            assert ack["seq"] == 1
    # the node is gone (server stopped, store closed) before bob ever connected
    async with chat_node(chat_db) as second, open_ws(second, BOB) as bob:
        await send(bob, type="chat_resume", id="r", conversation=cid, after_seq=0)
        page = await recv_type(bob, "chat_history")
        assert [(m["seq"], m["from"], m["text"]) for m in page["messages"]] == [
            (1, "alice", "survive this")
        ]
        assert page["messages"][0]["at"] == ack["at"]
        # numbering continues where the first run stopped
        async with open_ws(second, ALICE) as alice:
            assert (await say(alice, cid, "still here", "c2"))["seq"] == 2
        live = (await recv_type(bob, "chat_message"))["message"]
        assert (live["seq"], live["text"]) == (2, "still here")


async def test_concurrent_senders_on_one_room_get_one_numbering(chat_db: str) -> None:
    async with chat_node(chat_db) as node:
        async with node.http(SUE) as http:
            response = await http.post(
                "/api/chat/rooms", json={"name": "Floor 2", "members": ["alice", "bob"]}
            )
        assert response.status_code == 201, response.text
        room = response.json()["id"]
        async with open_ws(node, ALICE) as alice, open_ws(node, BOB) as bob:
            count = 15

            async def burst(ws: ClientConnection, who: str) -> list[int]:
                for n in range(count):
                    await send(
                        ws, type="chat_send", id=f"{who}{n}", conversation=room, text=f"{who} {n}"
                    )
                acks: list[int] = []
                while len(acks) < count:
                    frame = await recv(ws)
                    if frame["type"] == "chat_ack":
                        assert frame["id"] == f"{who}{len(acks)}"  # in the order sent
                        acks.append(frame["seq"])
                return acks

            alice_seqs, bob_seqs = await asyncio.gather(burst(alice, "a"), burst(bob, "b"))
        assert alice_seqs == sorted(alice_seqs)
        assert bob_seqs == sorted(bob_seqs)
        assert sorted(alice_seqs + bob_seqs) == list(range(1, 2 * count + 1))
        stored = await node.store.chat_messages(room, after=0, before=None, limit=100)
        by_seq = {m.seq: m.text for m in stored}
        assert [by_seq[s] for s in alice_seqs] == [f"a {n}" for n in range(count)]


async def test_a_failing_delivery_loses_nothing(chat_db: str) -> None:
    class Broken:
        def __init__(self, hub: Hub) -> None:
            self.calls = 0

        def publish_to_logins(self, logins: Any, payload: Any) -> None:
            self.calls += 1
            raise RuntimeError("bus down")

    async with chat_node(chat_db, delivery=Broken) as node:
        cid = await direct(node)
        async with open_ws(node, ALICE) as alice:
            assert (await say(alice, cid, "despite the bus", "c1"))["type"] == "chat_ack"
        async with node.http(BOB) as http:
            page = (await http.get(f"/api/chat/conversations/{cid}/messages?after=0")).json()
        assert [m["text"] for m in page["messages"]] == ["despite the bus"]


async def test_a_send_retried_with_its_client_id_is_stored_and_delivered_once(
    chat_db: str,
) -> None:
    async with chat_node(chat_db) as node:
        cid = await direct(node)
        async with open_ws(node, BOB) as bob:
            async with open_ws(node, ALICE) as alice:
                await send(
                    alice, type="chat_send", id="c1", conversation=cid, text="hi", client_id="u-42"
                )
                first = await recv_type(alice, "chat_ack")
            # the ack may have been lost with the socket: the page sends again, same client_id
            async with open_ws(node, ALICE) as again:
                await send(
                    again, type="chat_send", id="c1", conversation=cid, text="hi", client_id="u-42"
                )
                second = await recv_type(again, "chat_ack")
                await send(
                    again, type="chat_send", id="c2", conversation=cid, text="x", client_id="a b"
                )
                error = await recv_type(again, "chat_error")
            assert (first["seq"], second["seq"]) == (1, 1)
            assert second["at"] == first["at"]
            assert (error["code"], error["field"]) == ("invalid", "client_id")
            got = (await recv_type(bob, "chat_message"))["message"]
            assert (got["seq"], got["client_id"]) == (1, "u-42")
            # delivered once (Alice's sockets coming and going send Bob her presence)
            assert [f for f in await _frames(bob) if f.get("type") != "chat_presence"] == []
        stored = await node.store.chat_messages(cid, after=0, before=None, limit=5)
        assert [(m.seq, m.text) for m in stored] == [(1, "hi")]


async def _frames(ws: ClientConnection, wait: float = 0.15) -> list[dict[str, Any]]:
    """Every frame that arrives until `wait` seconds pass quietly."""
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(await recv(ws, wait))
    return frames
