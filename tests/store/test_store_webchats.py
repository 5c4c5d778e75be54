"""Customer web chats in the store (SQLite and PostgreSQL, migration 0008): each
change written over its version, members following the chat, open chats read
back in arrival order, ended chats listed by scope and filters."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from cti.chat.routing import WebchatState
from cti.chat.webchats import WebchatFilter, WebchatScope
from cti.store import Store

AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


async def _open(store: Store, n: int, queue: str = "support", at: datetime = AT) -> WebchatState:
    conversation, record = await store.webchat_open(
        f"webchat:n{n}", f"Customer {n}", f"customer.n{n}", queue, at
    )
    assert (conversation.kind, conversation.logins()) == ("customer", (f"customer.n{n}",))
    assert record.conversation_id == conversation.id
    assert (record.agent, record.ended, record.version, record.waiting_since) == (
        None,
        False,
        0,
        at,
    )
    return record.state()


def _assign(chat: WebchatState, login: str, interface: str | None = None) -> WebchatState:
    return dataclasses.replace(
        chat, agent=login, agent_name=login.title(), agent_interface=interface
    )


async def test_a_change_is_written_over_its_version_and_members_follow(store: Store) -> None:
    chat = await _open(store, 1)
    to_alice = _assign(chat, "alice", "PJSIP/1001")
    to_bob = _assign(chat, "bob", "PJSIP/1002")
    # two writers from the same version: one wins, the other writes nothing
    first, second = await asyncio.gather(
        store.webchat_save(to_alice, "assigned", AT, join=["alice"]),
        store.webchat_save(to_bob, "assigned", AT, join=["bob"]),
    )
    assert sorted([first, second]) == [False, True]
    winner = "alice" if first else "bob"
    stored = await store.webchat(chat.conversation_id)
    assert stored is not None
    assert (stored.agent, stored.version, stored.assigned_at) == (winner, 1, AT)
    assert stored.waiting_since is None
    conversation = await store.chat_conversation(chat.conversation_id)
    assert conversation is not None
    assert conversation.logins() == tuple(sorted(["customer.n1", winner]))
    # transferred away to the queue: the agent leaves the conversation
    back = dataclasses.replace(
        stored.state(), agent=None, agent_name=None, agent_interface=None, exclude=(winner,)
    )
    later = AT + timedelta(minutes=1)
    assert await store.webchat_save(back, "waiting", later, leave=[winner])
    assert not await store.webchat_save(back, "waiting", later)  # version 1 is gone
    stored = await store.webchat(chat.conversation_id)
    assert stored is not None
    assert (stored.agent, stored.exclude, stored.waiting_since, stored.version) == (
        None,
        (winner,),
        later,
        2,
    )
    conversation = await store.chat_conversation(chat.conversation_id)
    assert conversation is not None
    assert conversation.logins() == ("customer.n1",)
    assert await store.chat_append(chat.conversation_id, winner, "still here?", later) is None
    assert await store.chat_remove_members(chat.conversation_id, [winner, "customer.n1"]) == 1


async def test_open_chats_come_back_oldest_first_and_ended_ones_are_history(store: Store) -> None:
    # created out of id order: the line is by arrival time
    late = await _open(store, 1, at=AT + timedelta(seconds=30))
    early = await _open(store, 2, at=AT)
    middle = await _open(store, 3, queue="billing", at=AT + timedelta(seconds=10))
    ended = dataclasses.replace(_assign(middle, "bob", "PJSIP/1002"), version=0)
    assert await store.webchat_save(ended, "assigned", AT, join=["bob"])
    done = dataclasses.replace(ended, ended=True, disposition="callback", version=1)
    end_at = AT + timedelta(minutes=5)
    assert await store.webchat_save(done, "ended", end_at)
    assert [r.conversation_id for r in await store.webchats_open()] == [
        early.conversation_id,
        late.conversation_id,
    ]
    alice_done = _assign(early, "alice", "PJSIP/1001")
    assert await store.webchat_save(alice_done, "assigned", AT, join=["alice"])
    alice_done = dataclasses.replace(alice_done, ended=True, disposition="resolved", version=1)
    assert await store.webchat_save(alice_done, "ended", end_at + timedelta(minutes=1))
    assert [r.conversation_id for r in await store.webchats_open()] == [late.conversation_id]

    async def listed(f: WebchatFilter) -> list[tuple[int, str | None]]:
        return [(r.conversation_id, r.disposition) for r in await store.webchats_ended(f)]

    every = WebchatScope.of("root", "admin")

    both = [(early.conversation_id, "resolved"), (middle.conversation_id, "callback")]
    assert await listed(WebchatFilter(every)) == both  # newest end first
    assert await listed(WebchatFilter(WebchatScope.of("alice", "agent"))) == both[:1]
    assert await listed(WebchatFilter(WebchatScope.of("bob", "agent"))) == both[1:]
    assert await listed(WebchatFilter(WebchatScope.of("carl", "agent"))) == []
    billing = WebchatScope.of("sue", "supervisor", ["billing"])
    assert await listed(WebchatFilter(billing)) == both[1:]
    team = WebchatScope.of("sue", "supervisor", [], ["PJSIP/1001"])
    assert await listed(WebchatFilter(team)) == both[:1]
    assert await listed(WebchatFilter(every, queue="billing")) == both[1:]
    assert await listed(WebchatFilter(every, agent="alice")) == both[:1]
    assert await listed(WebchatFilter(every, start=end_at + timedelta(seconds=1))) == both[:1]
    assert await listed(WebchatFilter(every, end=end_at + timedelta(seconds=1))) == both[1:]
    assert await listed(WebchatFilter(every, limit=1, offset=1)) == both[1:]
    (record,) = await store.webchats_ended(WebchatFilter(WebchatScope.of("bob", "agent")))
    assert (record.queue, record.customer_name, record.ended_at) == (
        "billing",
        "Customer 3",
        end_at,
    )
    assert record.to_json()["state"] == "ended"
