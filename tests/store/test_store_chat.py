"""Chat in the store (SQLite and PostgreSQL): numbering, paging, marks, membership."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cti.store import ConflictError, Store

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def test_messages_are_numbered_per_conversation_from_one(store: Store) -> None:
    direct = await store.chat_open_direct("alice bob", ("alice", "bob"), AT)
    room = await store.chat_create_room("Support team", ["alice", "bob", "sue"], AT)
    assert direct.kind == "direct"
    assert direct.name is None
    assert room.logins() == ("alice", "bob", "sue")
    seqs = []
    for n, cid in enumerate([direct.id, room.id, direct.id, direct.id, room.id]):
        stored = await store.chat_append(cid, "alice", f"m{n}", AT + timedelta(seconds=n))
        assert stored is not None
        message, members, created = stored
        assert created
        seqs.append((cid, message.seq))
        assert members == (("alice", "bob") if cid == direct.id else ("alice", "bob", "sue"))
    assert seqs == [(direct.id, 1), (room.id, 1), (direct.id, 2), (direct.id, 3), (room.id, 2)]
    again = await store.chat_conversation(direct.id)
    assert again is not None
    assert again.last_seq == 3
    # the sender has read what they sent; bob has read nothing
    assert again.unread_for("alice") == 0
    assert again.unread_for("bob") == 3
    page = await store.chat_messages(direct.id, after=0, before=None, limit=10)
    assert [(m.seq, m.text, m.sender) for m in page] == [
        (1, "m0", "alice"),
        (2, "m2", "alice"),
        (3, "m3", "alice"),
    ]
    assert page[0].sent_at == AT


async def test_concurrent_senders_get_distinct_gapless_seqs(store: Store) -> None:
    room = await store.chat_create_room("Busy", ["alice", "bob", "sue"], AT)
    senders = ["alice", "bob", "sue"] * 20

    async def send(n: int, login: str) -> int:
        stored = await store.chat_append(room.id, login, f"{login}-{n}", AT)
        assert stored is not None
        return stored[0].seq

    seqs = await asyncio.gather(*(send(n, login) for n, login in enumerate(senders)))
    assert sorted(seqs) == list(range(1, len(senders) + 1))
    assert store.chat_writer.stats.largest_batch > 1  # group commit: fewer transactions
    stored = await store.chat_messages(room.id, after=0, before=None, limit=100)
    assert [m.seq for m in stored] == list(range(1, len(senders) + 1))
    # each seq holds the text its sender was told it got
    by_seq = {m.seq: m.text for m in stored}
    for n, (login, seq) in enumerate(zip(senders, seqs, strict=True)):
        assert by_seq[seq] == f"{login}-{n}"


async def test_a_non_member_cannot_append_and_uses_no_seq(store: Store) -> None:
    direct = await store.chat_open_direct("alice bob", ("alice", "bob"), AT)
    assert await store.chat_append(direct.id, "mallory", "hi", AT) is None
    assert await store.chat_append(9999, "alice", "hi", AT) is None
    stored = await store.chat_append(direct.id, "bob", "first", AT)
    assert stored is not None
    assert stored[0].seq == 1
    assert await store.chat_messages(direct.id, after=None, before=None, limit=5) == [stored[0]]


async def test_opening_a_direct_conversation_twice_at_once_makes_one(store: Store) -> None:
    opened = await asyncio.gather(
        *(store.chat_open_direct("alice bob", ("alice", "bob"), AT) for _ in range(5))
    )
    assert len({c.id for c in opened}) == 1
    assert [c.id for c in await store.chat_conversations_for("bob")] == [opened[0].id]
    assert await store.chat_conversations_for("sue") == []


async def test_history_pages_before_and_after(store: Store) -> None:
    room = await store.chat_create_room("Paging", ["alice"], AT)
    for n in range(1, 11):
        await store.chat_append(room.id, "alice", f"m{n}", AT)

    async def seqs(after: int | None, before: int | None, limit: int) -> list[int]:
        page = await store.chat_messages(room.id, after=after, before=before, limit=limit)
        return [m.seq for m in page]

    assert await seqs(None, None, 3) == [8, 9, 10]  # the newest, oldest first
    assert await seqs(None, 8, 3) == [5, 6, 7]
    assert await seqs(None, 2, 3) == [1]
    assert await seqs(7, None, 2) == [8, 9]
    assert await seqs(10, None, 5) == []
    assert await seqs(3, 6, 10) == [4, 5]


async def test_marks_only_move_forward_and_stop_at_the_last_seq(store: Store) -> None:
    direct = await store.chat_open_direct("alice bob", ("alice", "bob"), AT)
    for n in range(4):
        await store.chat_append(direct.id, "alice", f"m{n}", AT)
    bob = await store.chat_mark(direct.id, "bob", delivered=2)
    assert bob is not None
    assert (bob.last_read_seq, bob.last_delivered_seq) == (0, 2)
    bob = await store.chat_mark(direct.id, "bob", read=3)
    assert bob is not None
    assert (bob.last_read_seq, bob.last_delivered_seq) == (3, 3)
    bob = await store.chat_mark(direct.id, "bob", read=1)  # back: ignored
    assert bob is not None
    assert bob.last_read_seq == 3
    bob = await store.chat_mark(direct.id, "bob", read=99)  # beyond: clamped
    assert bob is not None
    assert bob.last_read_seq == 4
    assert await store.chat_mark(direct.id, "mallory", read=1) is None
    conversation = await store.chat_conversation(direct.id)
    assert conversation is not None
    assert conversation.unread_for("bob") == 0


async def test_members_added_to_a_room_start_unread(store: Store) -> None:
    room = await store.chat_create_room("Late", ["alice"], AT)
    await store.chat_append(room.id, "alice", "before bob", AT)
    updated = await store.chat_add_members(room.id, ["bob", "alice"], AT)
    assert updated is not None
    assert updated.logins() == ("alice", "bob")
    assert updated.unread_for("bob") == 1
    assert await store.chat_add_members(12345, ["bob"], AT) is None


async def test_text_is_stored_verbatim(store: Store) -> None:
    direct = await store.chat_open_direct("alice bob", ("alice", "bob"), AT)
    text = '<img src=x onerror=alert(1)> "José" 😀\n\tend & </script>'
    await store.chat_append(direct.id, "alice", text, AT)
    (message,) = await store.chat_messages(direct.id, after=0, before=None, limit=1)
    assert message.text == text


async def test_a_duplicate_seq_is_refused_by_the_schema(store: Store) -> None:
    from cti.store.tables import ChatMessageRow

    room = await store.chat_create_room("Unique", ["alice"], AT)
    await store.chat_append(room.id, "alice", "one", AT)
    with pytest.raises(ConflictError):
        async with store._transaction("duplicate") as session:
            session.add(
                ChatMessageRow(conversation_id=room.id, seq=1, sender="alice", text="x", sent_at=AT)
            )


async def test_a_retried_send_with_its_client_id_is_stored_once(store: Store) -> None:
    direct = await store.chat_open_direct("alice bob", ("alice", "bob"), AT)
    first = await store.chat_append(direct.id, "alice", "once", AT, client_id="u-1")
    assert first is not None
    assert (first.message.seq, first.created) == (1, True)
    retries = await asyncio.gather(
        *(store.chat_append(direct.id, "alice", "once", AT, client_id="u-1") for _ in range(5))
    )
    for retry in retries:
        assert retry is not None
        assert (retry.message, retry.created) == (first.message, False)
    # the same id from bob, or no id, is another message; the counter has no hole
    other = await store.chat_append(direct.id, "bob", "mine", AT, client_id="u-1")
    plain = await store.chat_append(direct.id, "alice", "again", AT)
    assert other is not None
    assert plain is not None
    assert (other.message.seq, plain.message.seq) == (2, 3)
    stored = await store.chat_messages(direct.id, after=0, before=None, limit=10)
    assert [(m.seq, m.client_id) for m in stored] == [(1, "u-1"), (2, "u-1"), (3, None)]


async def test_one_batch_mixing_refusals_retries_and_two_conversations(store: Store) -> None:
    direct = await store.chat_open_direct("alice bob", ("alice", "bob"), AT)
    room = await store.chat_create_room("Mixed", ["bob"], AT)
    results = await asyncio.gather(  # queued together: written in one transaction
        store.chat_append(direct.id, "alice", "one", AT),
        store.chat_append(direct.id, "mallory", "nope", AT),
        store.chat_append(room.id, "bob", "room one", AT),
        store.chat_append(direct.id, "alice", "two", AT, client_id="u"),
        store.chat_append(direct.id, "alice", "two", AT, client_id="u"),
        store.chat_append(room.id, "alice", "not in the room", AT),
        store.chat_append(direct.id, "bob", "three", AT),
    )
    summary = [None if r is None else (r.message.seq, r.message.text, r.created) for r in results]
    assert summary == [
        (1, "one", True),
        None,
        (1, "room one", True),
        (2, "two", True),
        (2, "two", False),
        None,
        (3, "three", True),
    ]
    conversation = await store.chat_conversation(direct.id)
    assert conversation is not None
    assert conversation.last_seq == 3
    bob = conversation.member("bob")
    assert bob is not None
    assert bob.last_read_seq == 3  # his own message
    stored = await store.chat_messages(room.id, after=0, before=None, limit=5)
    assert [m.text for m in stored] == ["room one"]
