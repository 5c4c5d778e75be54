"""Customer web chat over the real app and store (SQLite and PostgreSQL):
the customer token grants one conversation and nothing else, routing to the
least-loaded available agent, waiting, transfer, end with a disposition."""

from __future__ import annotations

import asyncio
from typing import Any

import chat_rig
import pytest
from chat_rig import open_ws, recv, recv_type, send
from web_fakes import ALICE, BOB
from webchat_rig import Node, webchat_node
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

chat_db = chat_rig.chat_db  # the fixture (SQLite and PostgreSQL)
XSS = "<img src=x onerror=alert(1)>"


async def start(node: Node, **body: str) -> tuple[str, int]:
    async with node.customer() as http:
        r = await http.post("/api/webchat/start", json={"queue": "support", **body})
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["conversation"]


async def customer_frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    return await recv_type(ws, kind)


async def test_customer_chat_is_routed_and_both_sides_talk(chat_db: str) -> None:
    async with webchat_node(chat_db) as node, open_ws(node.chat, ALICE) as alice:
        token, cid = await start(node, name="Zoé <b>")
        offer = await recv_type(alice, "chat_offer")
        assert offer["conversation"] == cid
        async with node.chat.http(ALICE) as http:
            mine = (await http.get("/api/chat/conversations")).json()
            (listed,) = [c for c in mine if c["id"] == cid]
            assert (listed["kind"], listed["name"]) == ("customer", "Zoé <b>")
        async with node.customer_ws(token) as customer:
            assert (await customer_frame(customer, "chat_assigned"))["agent"] == "Alice"
            await send(customer, type="chat_send", id="c1", text=XSS, client_id="k1")
            ack = await customer_frame(customer, "chat_ack")
            assert (ack["conversation"], ack["seq"]) == (cid, 1)
            got = (await recv_type(alice, "chat_message"))["message"]
            assert (got["seq"], got["text"]) == (1, XSS)
            assert got["from"].startswith("customer.")
            await send(alice, type="chat_send", id="a1", conversation=cid, text="Hello!")
            echoed = await customer_frame(customer, "chat_message")
            assert echoed["message"]["text"] in (XSS, "Hello!")
            if echoed["message"]["text"] == XSS:
                echoed = await customer_frame(customer, "chat_message")
            assert (echoed["message"]["seq"], echoed["message"]["from"]) == (2, "alice")
        # REST for the customer: history after a seq, and a post
        async with node.customer(token) as http:
            page = (await http.get("/api/webchat/messages", params={"after": 1})).json()
            assert [m["text"] for m in page["messages"]] == ["Hello!"]
            assert (page["state"], page["agent"]) == ("assigned", "Alice")
            posted = await http.post("/api/webchat/messages", json={"text": "thanks"})
            assert (posted.status_code, posted.json()["seq"]) == (201, 3)
            assert (await http.post("/api/webchat/messages", json={"text": " "})).status_code == 422


async def test_the_customer_token_grants_its_one_conversation_and_nothing_else(
    chat_db: str,
) -> None:
    async with webchat_node(chat_db) as node:
        token, cid = await start(node)
        other_token, other = await start(node)
        async with node.chat.http(ALICE) as http:
            direct = (await http.post("/api/chat/direct", json={"login": "bob"})).json()["id"]
        async with node.customer(token) as http:
            # any other route: 401
            for method, path in (
                ("GET", "/api/me"),
                ("GET", "/api/calls"),
                ("GET", "/api/chat/conversations"),
                ("GET", f"/api/chat/conversations/{cid}/messages"),
                ("POST", f"/api/webchat/{cid}/end"),
            ):
                r = await http.request(method, path, json={"disposition": "resolved"})
                assert r.status_code == 401, (method, path, r.text)
            # its token on another conversation: 403
            for target in (other, direct):
                r = await http.get("/api/webchat/messages", params={"conversation": target})
                assert (r.status_code, r.json()["code"]) == (403, "not_member")
                r = await http.post(
                    "/api/webchat/messages", json={"text": "hi", "conversation": target}
                )
                assert (r.status_code, r.json()["code"]) == (403, "not_member")
            async with node.customer_ws(token) as ws:
                await send(ws, type="chat_send", id="x", conversation=other, text="hi")
                error = await customer_frame(ws, "chat_error")
                assert (error["status"], error["code"]) == (403, "not_member")
        assert (await node.chat.store.chat_conversation(other)).last_seq == 0  # type: ignore[union-attr]
        # a forged or missing token: 401 / close 4401
        forged = token.rsplit(".", 1)[0] + ".AAAA"
        for bad in (forged, other_token.replace(f".{other}.", f".{cid}."), "nonsense"):
            async with node.customer(bad) as http:
                assert (await http.get("/api/webchat/messages")).status_code == 401
            async with node.customer_ws(bad) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await recv(ws)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4401
        async with node.customer() as http:
            assert (await http.get("/api/webchat/messages")).status_code == 401
        async with node.chat.http(ALICE) as http:  # a login token is no customer token
            r = await http.get("/api/webchat/messages")
            assert (r.status_code, r.json()["code"]) == (403, "not_allowed")


async def test_start_checks_the_queue_and_limits_starts_per_ip(chat_db: str) -> None:
    async with webchat_node(chat_db) as node, node.customer() as http:
        r = await http.post("/api/webchat/start", json={"queue": "nope"})
        assert (r.status_code, r.json()["field"]) == (404, "queue")
        assert (await http.post("/api/webchat/start", json={})).status_code == 422
        codes = [
            (await http.post("/api/webchat/start", json={"queue": "support"})).status_code
            for _ in range(6)
        ]
        assert codes == [201] * 4 + [429, 429]  # 5 per IP at once (one spent on "nope")


async def test_waiting_least_loaded_transfer_and_end(chat_db: str) -> None:
    async with (
        webchat_node(chat_db, max_per_agent=1) as node,
        open_ws(node.chat, ALICE) as alice,
        open_ws(node.chat, BOB) as bob,
    ):
        node.state.states["PJSIP/1002"] = "on_call"  # bob takes no chat
        _, first = await start(node)
        assert (await recv_type(alice, "chat_offer"))["conversation"] == first
        token, second = await start(node)  # alice is full, bob busy: it waits
        async with node.customer_ws(token) as customer:
            await customer_frame(customer, "chat_waiting")
            node.state.states["PJSIP/1002"] = "available"  # bob frees up
            assert (await recv_type(bob, "chat_offer"))["conversation"] == second
            assert (await customer_frame(customer, "chat_assigned"))["agent"] == "Bob"
            async with node.chat.http(ALICE) as http:
                r = await http.post(f"/api/webchat/{second}/end", json={"disposition": "resolved"})
                assert (r.status_code, r.json()["code"]) == (403, "not_allowed")  # not hers
                r = await http.post(f"/api/webchat/{first}/transfer", json={"agent": "bob"})
                assert (r.status_code, r.json()["code"]) == (403, "not_allowed")  # bob is full
            async with node.chat.http(BOB) as http:
                r = await http.post(f"/api/webchat/{second}/end", json={"disposition": "nope"})
                assert (r.status_code, r.json()["field"]) == (422, "disposition")
                r = await http.post(f"/api/webchat/{second}/end", json={"disposition": "resolved"})
                assert r.status_code == 200, r.text
            await customer_frame(customer, "chat_ended")
            await send(customer, type="chat_send", id="late", text="hello?")
            assert (await customer_frame(customer, "chat_error"))["code"] == "not_allowed"
        # bob is free again: alice hands her chat to him; then he sends it back to the queue
        async with node.chat.http(ALICE) as http:
            r = await http.post(f"/api/webchat/{first}/transfer", json={"agent": "bob"})
            assert (r.status_code, r.json()["agent"]) == (200, "Bob"), r.text
        assert (await recv_type(bob, "chat_offer"))["conversation"] == first
        async with node.chat.http(BOB) as http:
            r = await http.post(f"/api/webchat/{first}/transfer", json={"queue": "support"})
            assert (r.status_code, r.json()["agent"]) == (200, "Alice"), r.text
            r = await http.post(f"/api/webchat/{first}/transfer", json={"queue": "nope"})
            assert r.status_code == 403  # no longer his
        assert (await recv_type(alice, "chat_offer"))["conversation"] == first
        # the same over alice's /ws: a bad disposition, then the end
        await send(alice, type="webchat_end", id="e1", conversation=first, disposition="x")
        refused = await recv_type(alice, "webchat_result")
        assert (refused["id"], refused["ok"], refused["field"]) == ("e1", False, "disposition")
        await send(alice, type="webchat_end", id="e2", conversation=first, disposition="callback")
        done = await recv_type(alice, "webchat_result")
        assert (done["id"], done["ok"], done["state"]) == ("e2", True, "ended")
        ended = node.webchat.book.get(first)
        assert ended is not None
        assert (ended.ended, ended.disposition) == (True, "callback")
        await send(bob, type="webchat_transfer", id="t1", conversation=first, queue="support")
        late = await recv_type(bob, "webchat_result")
        assert (late["ok"], late["status"]) == (False, 404)  # ended: no open chat


async def test_an_idle_customer_socket_reads_the_store_only_when_poked(chat_db: str) -> None:
    async with webchat_node(chat_db) as node, open_ws(node.chat, ALICE) as alice:
        token, cid = await start(node)
        await recv_type(alice, "chat_offer")
        service = node.webchat.chat
        history = service.history
        reads = 0

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await history(*args, **kwargs)

        service.history = counted  # type: ignore[method-assign]
        async with node.customer_ws(token) as customer:
            await customer_frame(customer, "chat_assigned")
            reads_when_assigned = reads
            await asyncio.sleep(1.5)  # idle: no delivery, no change
            assert reads - reads_when_assigned <= 1
            await send(alice, type="chat_send", id="a1", conversation=cid, text="Hi there")
            # poked by the delivery: well before the 5 s re-read
            got = await recv_type(customer, "chat_message", wait=1.0)
            assert got["message"]["text"] == "Hi there"


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    chat_db: str,
) -> None:
    # the test's proxy is on 127.0.0.1, which uvicorn trusts by default
    async with webchat_node(chat_db) as node, node.customer() as http:

        async def start_from(ip: str) -> int:
            r = await http.post(
                "/api/webchat/start",
                json={"queue": "support"},
                headers={"X-Forwarded-For": ip},
            )
            return r.status_code

        assert [await start_from("203.0.113.7") for _ in range(6)] == [201] * 5 + [429]
        assert await start_from("198.51.100.9") == 201  # another customer, not limited
