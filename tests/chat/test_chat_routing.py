"""Customer chat routing (cti.chat.routing): pure, no clock, no I/O."""

from __future__ import annotations

import pytest

from cti.chat.routing import Candidate, WebchatBook, pick_agent


def agent(
    login: str, state: str = "available", queues: tuple[str, ...] = ("support",)
) -> Candidate:
    return Candidate(login, login.title(), state, queues)


def test_least_loaded_available_member_of_the_queue_wins() -> None:
    pool = [
        agent("alice"),
        agent("bob"),
        agent("carl", "on_call"),
        agent("dina", queues=("sales",)),
        agent("eve", "paused"),
    ]
    assert pick_agent("support", pool, {}, 3) == pool[0]  # tie: by login
    assert pick_agent("support", pool, {"alice": 2, "bob": 1}, 3) == pool[1]
    assert pick_agent("support", pool, {"alice": 3, "bob": 3}, 3) is None  # both full
    assert pick_agent("sales", pool, {}, 3) == pool[3]
    assert pick_agent("billing", pool, {}, 3) is None
    assert pick_agent("support", pool, {}, 3, exclude=("alice",)) == pool[1]


def test_waiting_chats_go_oldest_first_and_wait_when_everyone_is_full() -> None:
    book = WebchatBook(max_per_agent=2)
    for cid in (1, 2, 3, 4, 5):
        book.open(cid, "support", f"customer.{cid}")
    made = book.offers([agent("alice"), agent("bob")])
    assert [(o.conversation_id, o.agent.login) for o in made] == [
        (1, "alice"),
        (2, "bob"),
        (3, "alice"),
        (4, "bob"),
    ]
    assert [c.conversation_id for c in book.waiting()] == [5]
    assert book.load() == {"alice": 2, "bob": 2}
    assert book.offers([agent("alice"), agent("bob")]) == []  # still full: 5 waits
    book.end(1, "resolved")  # alice frees up
    (offer,) = book.offers([agent("alice"), agent("bob")])
    assert (offer.conversation_id, offer.agent.login) == (5, "alice")
    ended = book.get(1)
    assert ended is not None
    assert ended.disposition == "resolved"
    with pytest.raises(KeyError):
        book.end(1, "resolved")  # ended once


def test_a_chat_sent_back_to_a_queue_skips_the_agent_who_sent_it() -> None:
    book = WebchatBook(max_per_agent=3)
    book.open(7, "support", "customer.7")
    (first,) = book.offers([agent("alice")])
    assert first.agent.login == "alice"
    book.transfer_to_queue(7, "support", by="alice")
    assert book.offers([agent("alice")]) == []  # only alice: it waits
    (second,) = book.offers([agent("alice"), agent("bob", queues=("support", "sales"))])
    assert second.agent.login == "bob"
    moved = book.transfer_to_agent(7, agent("alice"))
    assert (moved.agent, book.load()) == ("alice", {"alice": 1})


def test_not_available_agents_get_nothing() -> None:
    book = WebchatBook(max_per_agent=3)
    book.open(1, "support", "customer.1")
    states = ("on_call", "ringing", "wrap_up", "paused", "logged_out")
    assert book.offers([agent(f"a{i}", s) for i, s in enumerate(states)]) == []
    with pytest.raises(ValueError, match="max_per_agent"):
        WebchatBook(0)
