"""Web chat repository: each customer chat's state (migration 0008).

Strategy: a chat's row is created with its conversation, in one transaction
(`open_webchat`), and every later change rewrites the whole state over the
version it was based on (`save_webchat`: `UPDATE ... WHERE version = n`, then
n + 1): a writer holding a stale state (another node assigned the chat
meanwhile) changes nothing and is told so. The members follow the state in the
same transaction: the agent a chat is transferred away from leaves the
conversation, the agent who gets it joins. Open chats are read back oldest
first (`open_webchats`), the order of the waiting line; ended ones are the
history (`ended_webchats`, newest end first, scoped like call history).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.chat.core import Conversation
from cti.chat.routing import WebchatState
from cti.chat.webchats import WebchatChange, WebchatFilter, WebchatRecord, WebchatScope
from cti.store import chat as _chat
from cti.store.tables import ConversationRow, WebchatRow

__all__ = ["ended_webchats", "open_webchat", "open_webchats", "save_webchat", "webchat"]


def _record(row: WebchatRow, name: str | None) -> WebchatRecord:
    return WebchatRecord(
        conversation_id=row.conversation_id,
        queue=row.queue,
        customer=row.customer,
        customer_name=name,
        agent=row.agent,
        agent_name=row.agent_name,
        agent_interface=row.agent_interface,
        exclude=tuple(row.exclude or ()),
        created_at=row.created_at,
        waiting_since=row.waiting_since,
        assigned_at=row.assigned_at,
        ended=row.ended,
        ended_at=row.ended_at,
        disposition=row.disposition,
        version=row.version,
    )


async def open_webchat(
    session: AsyncSession, key: str, name: str | None, customer: str, queue: str, at: datetime
) -> tuple[Conversation, WebchatRecord]:
    """A new customer conversation (`unique_key` `key`) and its waiting chat."""
    conversation = await _chat.create_conversation(
        session, "customer", name, [customer], at, unique_key=key
    )
    row = WebchatRow(
        conversation_id=conversation.id,
        queue=queue,
        customer=customer,
        exclude=[],
        created_at=at,
        waiting_since=at,
        ended=False,
        version=0,
    )
    session.add(row)
    await session.flush()
    return conversation, _record(row, name)


async def save_webchat(
    session: AsyncSession,
    chat: WebchatState,
    change: WebchatChange,
    at: datetime,
    *,
    join: Sequence[str] = (),
    leave: Sequence[str] = (),
) -> bool:
    """Write `chat` over the stored version `chat.version` (the row then has
    `chat.version + 1`), stamp `at` as `change` says, and make `join` members
    and `leave` no longer members; False (nothing written) if the row has
    another version or does not exist."""
    values: dict[str, object] = {
        "queue": chat.queue,
        "agent": chat.agent,
        "agent_name": chat.agent_name,
        "agent_interface": chat.agent_interface,
        "exclude": list(chat.exclude),
        "ended": chat.ended,
        "disposition": chat.disposition,
        "version": chat.version + 1,
    }
    if change == "assigned":
        values |= {"assigned_at": at, "waiting_since": None}
    elif change == "waiting":
        values |= {"assigned_at": None, "waiting_since": at}
    else:
        values |= {"ended_at": at, "waiting_since": None}
    result = await session.execute(
        update(WebchatRow)
        .where(WebchatRow.conversation_id == chat.conversation_id)
        .where(WebchatRow.version == chat.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    if leave:
        await _chat.remove_members(session, chat.conversation_id, leave)
    if join:
        await _chat.add_members(session, chat.conversation_id, join, at)
    return True


async def webchat(session: AsyncSession, conversation_id: int) -> WebchatRecord | None:
    query = select(WebchatRow, ConversationRow.name).join(
        ConversationRow, ConversationRow.id == WebchatRow.conversation_id
    )
    found = (
        await session.execute(query.where(WebchatRow.conversation_id == conversation_id))
    ).first()
    return _record(found[0], found[1]) if found is not None else None


async def open_webchats(session: AsyncSession) -> list[WebchatRecord]:
    """The chats not ended, oldest first (the waiting line's order)."""
    query = (
        select(WebchatRow, ConversationRow.name)
        .join(ConversationRow, ConversationRow.id == WebchatRow.conversation_id)
        .where(WebchatRow.ended == false())
        .order_by(WebchatRow.created_at, WebchatRow.conversation_id)
    )
    return [_record(row, name) for row, name in (await session.execute(query)).all()]


def _scope(scope: WebchatScope) -> ColumnElement[bool] | None:
    if scope.everything:
        return None
    allowed: list[ColumnElement[bool]] = []
    if scope.logins:
        allowed.append(WebchatRow.agent.in_(scope.logins))
    if scope.interfaces:
        allowed.append(WebchatRow.agent_interface.in_(scope.interfaces))
    if scope.queues:
        allowed.append(WebchatRow.queue.in_(scope.queues))
    return or_(*allowed) if allowed else false()


async def ended_webchats(session: AsyncSession, f: WebchatFilter) -> list[WebchatRecord]:
    """The ended chats `f` selects, newest end first (then by id, for stable pages)."""
    query = (
        select(WebchatRow, ConversationRow.name)
        .join(ConversationRow, ConversationRow.id == WebchatRow.conversation_id)
        .where(WebchatRow.ended == true())
    )
    scope = _scope(f.scope)
    if scope is not None:
        query = query.where(scope)
    if f.queue:
        query = query.where(WebchatRow.queue == f.queue)
    if f.agent:
        query = query.where(WebchatRow.agent == f.agent)
    if f.start is not None:
        query = query.where(WebchatRow.ended_at >= f.start)
    if f.end is not None:
        query = query.where(WebchatRow.ended_at < f.end)
    query = (
        query.order_by(WebchatRow.ended_at.desc(), WebchatRow.conversation_id.desc())
        .limit(f.limit)
        .offset(f.offset)
    )
    return [_record(row, name) for row, name in (await session.execute(query)).all()]
