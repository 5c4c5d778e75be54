"""Chat repository: conversations, members and numbered messages (migration 0007).

Strategy: a message takes its seq from its conversation's counter row
(`conversations.last_seq`), locked in the transaction that inserts it
(PostgreSQL: `SELECT ... FOR NO KEY UPDATE`, which queues concurrent writers
of one conversation until the holder commits; SQLite: the database's write
lock). So seqs are 1, 2, 3... with no gap and no repeat, and a message exists
exactly when its seq is committed. Messages are written in batches, one
transaction each (`append_messages`; cti/store/chat_writer.py gathers them),
so one commit serves many senders.

Read and delivered marks only grow: `UPDATE ... WHERE last_read_seq < new`,
with `new` clamped to the conversation's last seq, so racing marks cannot
move one back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.chat.core import (
    CONVERSATION_KINDS,
    Appended,
    Conversation,
    ConversationKind,
    Member,
    Message,
)
from cti.store.tables import ChatMemberRow, ChatMessageRow, ConversationRow

_CONVERSATIONS = cast(Table, ConversationRow.__table__)
_MEMBERS = cast(Table, ChatMemberRow.__table__)
_MESSAGES = cast(Table, ChatMessageRow.__table__)

__all__ = [
    "NewMessage",
    "add_members",
    "append_messages",
    "conversation",
    "conversations_for",
    "create_conversation",
    "keyed_conversation",
    "mark",
    "messages",
    "remove_members",
]


def _kind(value: str) -> ConversationKind:
    for kind in CONVERSATION_KINDS:
        if kind == value:
            return kind
    raise ValueError(f"unknown conversation kind {value!r}")


def _member(row: ChatMemberRow) -> Member:
    return Member(row.login, row.last_read_seq, row.last_delivered_seq)


def _conversation(row: ConversationRow, members: Iterable[ChatMemberRow]) -> Conversation:
    return Conversation(
        id=row.id,
        kind=_kind(row.kind),
        name=row.name,
        last_seq=row.last_seq,
        created_at=row.created_at,
        members=tuple(_member(m) for m in sorted(members, key=lambda m: m.login)),
    )


def _message(row: ChatMessageRow) -> Message:
    return Message(row.conversation_id, row.seq, row.sender, row.text, row.sent_at, row.client_id)


async def _members(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[ChatMemberRow]]:
    found: dict[int, list[ChatMemberRow]] = {i: [] for i in ids}
    if ids:
        rows = await session.scalars(
            select(ChatMemberRow).where(ChatMemberRow.conversation_id.in_(ids))
        )
        for row in rows:
            found[row.conversation_id].append(row)
    return found


async def conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    row = await session.get(ConversationRow, conversation_id)
    if row is None:
        return None
    members = await _members(session, [row.id])
    return _conversation(row, members[row.id])


async def conversations_for(session: AsyncSession, login: str) -> list[Conversation]:
    """The conversations `login` is a member of, by id."""
    rows = (
        await session.scalars(
            select(ConversationRow)
            .join(ChatMemberRow, ChatMemberRow.conversation_id == ConversationRow.id)
            .where(ChatMemberRow.login == login)
            .order_by(ConversationRow.id)
        )
    ).all()
    members = await _members(session, [r.id for r in rows])
    return [_conversation(r, members[r.id]) for r in rows]


async def create_conversation(
    session: AsyncSession,
    kind: ConversationKind,
    name: str | None,
    logins: Iterable[str],
    at: datetime,
    unique_key: str | None = None,
) -> Conversation:
    row = ConversationRow(kind=kind, name=name, unique_key=unique_key, last_seq=0, created_at=at)
    session.add(row)
    await session.flush()
    members = [
        ChatMemberRow(
            conversation_id=row.id, login=login, last_read_seq=0, last_delivered_seq=0, joined_at=at
        )
        for login in dict.fromkeys(logins)
    ]
    session.add_all(members)
    await session.flush()
    return _conversation(row, members)


async def keyed_conversation(session: AsyncSession, key: str) -> Conversation | None:
    """The direct conversation or team room with `unique_key` `key`."""
    row = (
        await session.scalars(select(ConversationRow).where(ConversationRow.unique_key == key))
    ).one_or_none()
    if row is None:
        return None
    members = await _members(session, [row.id])
    return _conversation(row, members[row.id])


async def add_members(
    session: AsyncSession, conversation_id: int, logins: Iterable[str], at: datetime
) -> Conversation | None:
    """Add `logins` not yet members; they start having read nothing."""
    row = await session.get(ConversationRow, conversation_id)
    if row is None:
        return None
    current = await _members(session, [row.id])
    have = {m.login for m in current[row.id]}
    for login in dict.fromkeys(logins):
        if login not in have:
            session.add(
                ChatMemberRow(
                    conversation_id=row.id,
                    login=login,
                    last_read_seq=0,
                    last_delivered_seq=0,
                    joined_at=at,
                )
            )
    await session.flush()
    return await conversation(session, conversation_id)


async def remove_members(session: AsyncSession, conversation_id: int, logins: Iterable[str]) -> int:
    """Take `logins` out of the conversation: they can no longer read or post in
    it (their messages stay). How many were members."""
    who = list(dict.fromkeys(logins))
    if not who:
        return 0
    result = await session.execute(
        delete(ChatMemberRow)
        .where(ChatMemberRow.conversation_id == conversation_id)
        .where(ChatMemberRow.login.in_(who))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to store (an item of `append_messages`)."""

    conversation_id: int
    sender: str
    text: str
    at: datetime
    client_id: str | None = None


async def append_messages(
    session: AsyncSession, items: Sequence[NewMessage]
) -> list[Appended | None]:
    """Number and insert `items` in the session's transaction; one result each,
    in order: the stored message, the one stored before under the same
    client_id (`created` False), or None (not a member, or no such conversation).

    A handful of statements per batch, whatever its size: lock the batch's
    counter rows (PostgreSQL: `SELECT ... ORDER BY id FOR NO KEY UPDATE`, so two
    nodes lock in the same order and cannot deadlock; SQLite: a no-op UPDATE
    takes the database's write lock first), read members and earlier
    client_ids, then one INSERT for the messages and one UPDATE each for the
    counters and the senders' read marks. Nothing fails for one item alone,
    so a batch commits or rolls back whole. Within a conversation, items take
    seqs in their order in `items`.
    """
    conn = await session.connection()  # Core statements: the hot path
    ids = sorted({item.conversation_id for item in items})
    if conn.dialect.name == "sqlite":
        await conn.execute(
            update(_CONVERSATIONS)
            .where(_CONVERSATIONS.c.id.in_(ids))
            .values(last_seq=_CONVERSATIONS.c.last_seq)
        )
        locked = select(_CONVERSATIONS.c.id, _CONVERSATIONS.c.last_seq).where(
            _CONVERSATIONS.c.id.in_(ids)
        )
    else:
        locked = (
            select(_CONVERSATIONS.c.id, _CONVERSATIONS.c.last_seq)
            .where(_CONVERSATIONS.c.id.in_(ids))
            .order_by(_CONVERSATIONS.c.id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE: members may still be added
        )
    last_seq = {row.id: row.last_seq for row in await conn.execute(locked)}
    members: dict[int, list[str]] = {cid: [] for cid in last_seq}
    rows = await conn.execute(
        select(_MEMBERS.c.conversation_id, _MEMBERS.c.login)
        .where(_MEMBERS.c.conversation_id.in_(list(last_seq)))
        .order_by(_MEMBERS.c.conversation_id, _MEMBERS.c.login)
    )
    for row in rows:
        members[row.conversation_id].append(row.login)
    logins = {cid: tuple(found) for cid, found in members.items()}
    earlier: dict[tuple[int, str, str], Message] = {}
    refs = sorted({i.client_id for i in items if i.client_id is not None})
    if refs:
        rows = await conn.execute(
            select(_MESSAGES)
            .where(_MESSAGES.c.conversation_id.in_(list(last_seq)))
            .where(_MESSAGES.c.client_id.in_(refs))
        )
        for row in rows:
            earlier[(row.conversation_id, row.sender, row.client_id)] = Message(
                row.conversation_id, row.seq, row.sender, row.text, row.sent_at, row.client_id
            )
    results: list[Appended | None] = []
    inserts: list[dict[str, object]] = []
    marks: dict[tuple[int, str], int] = {}
    for item in items:
        cid = item.conversation_id
        if cid not in last_seq or item.sender not in logins[cid]:
            results.append(None)  # refused before taking a seq: it uses none
            continue
        key = (cid, item.sender, item.client_id or "")
        if item.client_id is not None and key in earlier:
            results.append(Appended(earlier[key], logins[cid], created=False))
            continue
        last_seq[cid] += 1
        message = Message(cid, last_seq[cid], item.sender, item.text, item.at, item.client_id)
        if item.client_id is not None:
            earlier[key] = message  # the same id twice in one batch: stored once
        inserts.append(
            {
                "conversation_id": cid,
                "seq": message.seq,
                "sender": item.sender,
                "text": item.text,
                "sent_at": item.at,
                "client_id": item.client_id,
            }
        )
        marks[(cid, item.sender)] = message.seq  # the sender has read what they sent
        results.append(Appended(message, logins[cid]))
    if inserts:
        await conn.execute(insert(_MESSAGES), inserts)
        counters = {row["conversation_id"]: row["seq"] for row in inserts}
        await conn.execute(
            update(_CONVERSATIONS)
            .where(_CONVERSATIONS.c.id == bindparam("cid"))
            .values(last_seq=bindparam("seq")),
            [{"cid": cid, "seq": seq} for cid, seq in counters.items()],
        )
        await conn.execute(
            update(_MEMBERS)
            .where(_MEMBERS.c.conversation_id == bindparam("cid"))
            .where(_MEMBERS.c.login == bindparam("who"))
            .values(last_read_seq=bindparam("seq"), last_delivered_seq=bindparam("seq")),
            [{"cid": cid, "who": who, "seq": seq} for (cid, who), seq in marks.items()],
        )
    return results


async def messages(
    session: AsyncSession,
    conversation_id: int,
    *,
    after: int | None,
    before: int | None,
    limit: int,
) -> list[Message]:
    """Up to `limit` messages, oldest first: the first ones after `after`, or
    (without `after`) the newest ones before `before` (or the newest at all)."""
    query = select(ChatMessageRow).where(ChatMessageRow.conversation_id == conversation_id)
    if after is not None:
        query = query.where(ChatMessageRow.seq > after)
    if before is not None:
        query = query.where(ChatMessageRow.seq < before)
    if after is not None:
        rows = list((await session.scalars(query.order_by(ChatMessageRow.seq).limit(limit))).all())
    else:
        newest = query.order_by(ChatMessageRow.seq.desc()).limit(limit)
        rows = list((await session.scalars(newest)).all())
        rows.reverse()
    return [_message(r) for r in rows]


async def mark(
    session: AsyncSession,
    conversation_id: int,
    login: str,
    *,
    read: int | None = None,
    delivered: int | None = None,
) -> Member | None:
    """Move the member's read / delivered marks forward (never back, never past
    the last seq); the member as it now is, or None if not a member."""
    last_seq = (
        await session.scalars(
            select(ConversationRow.last_seq).where(ConversationRow.id == conversation_id)
        )
    ).one_or_none()
    if last_seq is None:
        return None
    where = (ChatMemberRow.conversation_id == conversation_id, ChatMemberRow.login == login)
    if read is not None:
        value = min(read, last_seq)
        await session.execute(
            update(ChatMemberRow)
            .where(*where, ChatMemberRow.last_read_seq < value)
            .values(last_read_seq=value)
        )
    # reading implies receiving
    got = max(delivered or 0, read or 0)
    if got:
        value = min(got, last_seq)
        await session.execute(
            update(ChatMemberRow)
            .where(*where, ChatMemberRow.last_delivered_seq < value)
            .values(last_delivered_seq=value)
        )
    row = (
        await session.scalars(
            select(ChatMemberRow).where(*where).execution_options(populate_existing=True)
        )
    ).one_or_none()
    return _member(row) if row is not None else None
