"""Chat REST routes and limits, over the real app and store (SQLite and PostgreSQL)."""

from __future__ import annotations

import chat_rig
import httpx
from chat_rig import Clock, chat_node, open_ws, recv_type, send
from web_fakes import ADA, ALICE, BOB, SUE

from cti.chat import ChatLimits

chat_db = chat_rig.chat_db  # the fixture (SQLite and PostgreSQL)

XSS = '<img src=x onerror="document.title=\'pwned\'"><script>alert(1)</script> & "quotes"'


async def test_post_then_page_through_history(chat_db: str) -> None:
    async with chat_node(chat_db) as node, node.http(ALICE) as http:
        cid = (await http.post("/api/chat/direct", json={"login": "bob"})).json()["id"]
        again = await http.post("/api/chat/direct", json={"login": "bob"})
        assert again.json()["id"] == cid  # opening it again finds the same one
        for n in range(1, 8):
            posted = await http.post(
                f"/api/chat/conversations/{cid}/messages", json={"text": f"m{n}"}
            )
            assert posted.status_code == 201, posted.text
            assert (posted.json()["conversation"], posted.json()["seq"]) == (cid, n)
        url = f"/api/chat/conversations/{cid}/messages"

        async def page(**params: int) -> tuple[list[int], bool]:
            response = await http.get(url, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            return [m["seq"] for m in body["messages"]], body["more"]

        assert await page(limit=3) == ([5, 6, 7], True)
        assert await page(before=5, limit=3) == ([2, 3, 4], True)
        assert await page(before=2, limit=3) == ([1], False)
        assert await page(after=4, limit=2) == ([5, 6], True)
        assert await page(after=6, limit=2) == ([7], False)
        assert await page(after=7) == ([], False)
        first = (await http.get(url, params={"after": 0, "limit": 1})).json()["messages"][0]
        assert set(first) == {"conversation", "seq", "from", "text", "at", "client_id"}
        assert (first["from"], first["text"]) == ("alice", "m1")
        for bad in ({"limit": 0}, {"limit": 501}, {"after": -1}, {"before": "x"}):
            assert (await http.get(url, params=bad)).status_code == 422, bad


async def test_html_and_script_are_stored_and_returned_verbatim(chat_db: str) -> None:
    async with chat_node(chat_db) as node, node.http(ALICE) as http:
        cid = (await http.post("/api/chat/direct", json={"login": "bob"})).json()["id"]
        async with open_ws(node, BOB) as bob:
            posted = await http.post(f"/api/chat/conversations/{cid}/messages", json={"text": XSS})
            assert posted.status_code == 201
            live = (await recv_type(bob, "chat_message"))["message"]
            assert live["text"] == XSS
        history = (await http.get(f"/api/chat/conversations/{cid}/messages")).json()
        assert history["messages"][0]["text"] == XSS
        (stored,) = await node.store.chat_messages(cid, after=0, before=None, limit=1)
        assert stored.text == XSS


async def test_size_and_content_limits(chat_db: str) -> None:
    limits = ChatLimits(max_chars=50)
    async with chat_node(chat_db, limits=limits) as node, node.http(ALICE) as http:
        cid = (await http.post("/api/chat/direct", json={"login": "bob"})).json()["id"]
        url = f"/api/chat/conversations/{cid}/messages"
        ok = await http.post(url, json={"text": "é" * 50})
        assert ok.status_code == 201
        cases = {
            "x" * 51: "too_long",
            "   \n ": "invalid",
            "bell\x07": "invalid",
            "nul\x00": "invalid",
        }
        for text, code in cases.items():
            response = await http.post(url, json={"text": text})
            assert response.status_code == 422, text
            assert response.json()["code"] == code
            assert response.json()["field"] == "text"
            assert text not in response.json()["message"]  # never echoed
        not_text = await http.post(url, json={"text": 42})
        assert not_text.status_code == 422
        assert (await http.post(url, json={})).status_code == 422
        async with open_ws(node, ALICE) as ws:
            await send(ws, type="chat_send", id="big", conversation=cid, text="y" * 51)
            error = await recv_type(ws, "chat_error")
            assert (error["id"], error["code"], error["status"], error["field"]) == (
                "big",
                "too_long",
                422,
                "text",
            )
            await send(ws, type="chat_send", id="bad", conversation="7", text="hi")
            error = await recv_type(ws, "chat_error")
            assert (error["code"], error["field"]) == ("invalid", "conversation")
        stored = await node.store.chat_messages(cid, after=0, before=None, limit=10)
        assert [m.text for m in stored] == ["é" * 50]


async def test_rate_limit_per_sender_with_a_stepped_clock(chat_db: str) -> None:
    clock = Clock()
    limits = ChatLimits(burst=3, per_second=0.5)
    async with chat_node(chat_db, limits=limits, clock=clock) as node:
        async with node.http(ALICE) as alice, node.http(BOB) as bob:
            cid = (await alice.post("/api/chat/direct", json={"login": "bob"})).json()["id"]
            url = f"/api/chat/conversations/{cid}/messages"
            codes = [(await alice.post(url, json={"text": f"{n}"})).status_code for n in range(4)]
            assert codes == [201, 201, 201, 429]
            limited = await alice.post(url, json={"text": "again"})
            assert limited.json()["code"] == "rate_limited"
            # the limit is per sender: bob is not held up by alice
            assert (await bob.post(url, json={"text": "bob"})).status_code == 201
            clock.now += 2.0  # one token back
            assert (await alice.post(url, json={"text": "later"})).status_code == 201
            assert (await alice.post(url, json={"text": "too soon"})).status_code == 429
        async with open_ws(node, ALICE) as ws:
            await send(ws, type="chat_send", id="c9", conversation=cid, text="ws")
            error = await recv_type(ws, "chat_error")
            assert (error["id"], error["code"], error["status"]) == ("c9", "rate_limited", 429)
        texts = [
            m.text for m in await node.store.chat_messages(cid, after=0, before=None, limit=20)
        ]
        assert texts == ["0", "1", "2", "bob", "later"]


async def test_rooms_are_made_by_supervisors_and_show_presence(chat_db: str) -> None:
    async with chat_node(chat_db) as node:
        async with node.http(ALICE) as alice:
            refused = await alice.post("/api/chat/rooms", json={"name": "Mine", "members": []})
            assert (refused.status_code, refused.json()["code"]) == (403, "not_allowed")
        async with node.http(SUE) as sue, open_ws(node, ALICE), open_ws(node, SUE):
            created = await sue.post(
                "/api/chat/rooms", json={"name": "  Night shift ", "members": ["alice"]}
            )
            assert created.status_code == 201, created.text
            room = created.json()
            assert (room["kind"], room["name"], room["last_seq"]) == ("room", "Night shift", 0)
            presence = {m["login"]: m["presence"] for m in room["members"]}
            # alice is connected and her agent state is "ringing" (FakeState); sue has no phone
            assert presence == {"alice": "ringing", "sue": "online"}
            unknown = await sue.post("/api/chat/rooms", json={"name": "X", "members": ["ghost"]})
            assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
            blank = await sue.post("/api/chat/rooms", json={"name": "   ", "members": []})
            assert blank.status_code == 422
            added = await sue.post(
                f"/api/chat/rooms/{room['id']}/members", json={"members": ["bob"]}
            )
            assert added.status_code == 200, added.text
            assert [m["login"] for m in added.json()["members"]] == ["alice", "bob", "sue"]
        async with node.http(ADA) as ada:  # an admin who is not in the room
            response = await ada.post(
                f"/api/chat/rooms/{room['id']}/members", json={"members": ["ada"]}
            )
            assert (response.status_code, response.json()["code"]) == (403, "not_member")
        async with node.http(BOB) as bob:
            (listed,) = (await bob.get("/api/chat/conversations")).json()
            assert listed["id"] == room["id"]
            direct = await bob.post("/api/chat/direct", json={"login": "bob"})
            assert (direct.status_code, direct.json()["code"]) == (422, "invalid")
            ghost = await bob.post("/api/chat/direct", json={"login": "ghost"})
            assert (ghost.status_code, ghost.json()["code"]) == (404, "not_found")


async def test_routes_need_a_token(chat_db: str) -> None:
    async with (
        chat_node(chat_db) as node,
        httpx.AsyncClient(base_url=node.http_base) as anonymous,
    ):
        assert (await anonymous.get("/api/chat/conversations")).status_code == 401
        posted = await anonymous.post("/api/chat/conversations/1/messages", json={"text": "x"})
        assert posted.status_code == 401


async def test_team_rooms_hold_the_team_and_follow_it(chat_db: str) -> None:
    Team = tuple[tuple[str, ...], tuple[str, ...]]  # noqa: N806 (a type alias)
    teams: dict[str, Team] = {"night": (("alice",), ("sue",)), "day": (("bob",), ())}
    async with chat_node(chat_db, teams=teams) as node:
        async with node.http(ALICE) as alice:
            opened = await alice.post("/api/chat/teams/night/room")
            assert opened.status_code == 200, opened.text
            room = opened.json()
            assert (room["kind"], room["name"]) == ("room", "night")
            assert [m["login"] for m in room["members"]] == ["alice", "sue"]
            again = await alice.post("/api/chat/teams/night/room")
            assert again.json()["id"] == room["id"]  # one room per team
            other = await alice.post("/api/chat/teams/day/room")
            assert (other.status_code, other.json()["code"]) == (403, "not_allowed")
            missing = await alice.post("/api/chat/teams/nope/room")
            assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
            url = f"/api/chat/conversations/{room['id']}/messages"
            assert (await alice.post(url, json={"text": "night shift, hi"})).status_code == 201
        async with node.http(BOB) as bob:  # not in the team (yet): not in the room
            assert (await bob.get(url)).status_code == 403
        teams["night"] = (("alice", "bob"), ("sue",))  # bob joins the team
        async with node.http(BOB) as bob:
            joined = await bob.post("/api/chat/teams/night/room")
            assert [m["login"] for m in joined.json()["members"]] == ["alice", "bob", "sue"]
            assert joined.json()["unread"] == 1
            page = (await bob.get(url)).json()
            assert [m["text"] for m in page["messages"]] == ["night shift, hi"]
        async with node.http(ADA) as ada:  # an admin may open any team's room, and joins
            opened = await ada.post("/api/chat/teams/day/room")
            assert [m["login"] for m in opened.json()["members"]] == ["ada", "bob"]
