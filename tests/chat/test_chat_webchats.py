"""Web chat records and the book rebuilt from them (cti.chat.webchats, pure)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from datetime import UTC, datetime
from pathlib import Path

from cti.chat import routing, webchats
from cti.chat.routing import Candidate, WebchatBook
from cti.chat.webchats import WebchatRecord, WebchatScope

AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def record(cid: int, agent: str | None = None, queue: str = "support") -> WebchatRecord:
    return WebchatRecord(
        conversation_id=cid,
        queue=queue,
        customer=f"customer.{cid}",
        customer_name="Zoé",
        agent=agent,
        agent_name=agent.title() if agent else None,
        agent_interface="PJSIP/1001" if agent == "alice" else None,
        exclude=("bob",) if agent is None else (),
        created_at=AT,
        waiting_since=None if agent else AT,
        assigned_at=AT if agent else None,
        ended=False,
        ended_at=None,
        disposition=None,
        version=3,
    )


def test_a_book_rebuilt_from_records_keeps_load_line_and_exclusions() -> None:
    book = WebchatBook(max_per_agent=1)
    for r in (record(4), record(2, "alice"), record(9), record(5)):
        book.put(r.state())
    assert [c.conversation_id for c in book.waiting()] == [4, 9, 5]  # as given, not by id
    assert book.load() == {"alice": 1}
    pool = [Candidate("alice", "Alice", "available", ("support",), "PJSIP/1001")]
    assert book.offers(pool) == []  # alice is full
    pool.append(Candidate("bob", "Bob", "available", ("support",), "PJSIP/1002"))
    pool.append(Candidate("carl", "Carl", "available", ("support",)))
    made = book.offers(pool)
    # bob sent them back: carl takes the oldest, the others wait
    assert [(o.conversation_id, o.agent.login) for o in made] == [(4, "carl")]
    taken = book.get(4)
    assert taken is not None
    assert (taken.agent, taken.version) == ("carl", 3)  # the shell bumps it once stored


def test_putting_back_an_earlier_copy_undoes_a_change_in_place() -> None:
    book = WebchatBook(max_per_agent=3)
    for cid in (1, 2, 3):
        book.open(cid, "support", f"customer.{cid}")
    chat = book.get(2)
    assert chat is not None
    before = dataclasses.replace(chat)
    book.end(2, "resolved")
    book.put(before)  # the store refused the end
    assert [c.conversation_id for c in book.waiting()] == [1, 2, 3]
    again = book.get(2)
    assert again is not None
    assert (again.ended, again.disposition) == (False, None)


def test_scopes_follow_call_history() -> None:
    alices = record(1, "alice")
    carls = record(2, "carl", queue="billing")
    assert WebchatScope.of("root", "admin").sees(carls)
    assert WebchatScope.of("alice", "agent").sees(alices)
    assert not WebchatScope.of("alice", "agent").sees(carls)
    assert not WebchatScope.of("bob", "agent").sees(alices)
    sue = WebchatScope.of("sue", "supervisor", ["billing"])
    assert (sue.sees(carls), sue.sees(alices)) == (True, False)
    team = WebchatScope.of("sue", "supervisor", [], ["PJSIP/1001"])
    assert (team.sees(carls), team.sees(alices)) == (False, True)
    assert alices.to_json()["state"] == "assigned"
    assert record(3).to_json()["state"] == "waiting"
    assert "customer" not in alices.to_json()


def test_the_web_chat_core_does_no_io() -> None:
    """routing.py and webchats.py import nothing but the standard library's
    pure parts and each other (the shell is cti/web/webchat_service.py)."""
    io = ("asyncio", "socket", "sqlalchemy", "fastapi", "httpx", "cti.store", "cti.web")
    for module in (routing, webchats):
        tree = ast.parse(Path(inspect.getfile(module)).read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad = [n for n in names if n.startswith(io)]
            assert bad == [], (module.__name__, bad)
