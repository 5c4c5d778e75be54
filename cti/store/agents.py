"""Agent repository: look-ups and creation over an open session.

Strategy: plain async functions taking an `AsyncSession`; `Store` owns the
transaction and the error translation. Password hashing is CPU-bound (scrypt),
so it runs in a worker thread and never inside an open transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.ids import AgentLogin, Interface, QueueName
from cti.store.records import ROLES, AgentRecord, Role
from cti.store.tables import Agent, SupervisorQueue

__all__ = [
    "add_supervisor_queues",
    "agent_by_interface",
    "agent_by_login",
    "agent_row_by_login",
    "check_role",
    "insert_agent",
    "list_agents",
    "to_record",
]


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")


def to_record(row: Agent) -> AgentRecord:
    return AgentRecord(
        id=row.id,
        login=AgentLogin(row.login),
        display_name=row.display_name,
        role=check_role(row.role),
        interface=Interface(row.interface) if row.interface is not None else None,
        created_at=row.created_at,
        queues=tuple(QueueName(q.queue) for q in row.supervised),
    )


async def agent_row_by_login(session: AsyncSession, login: str) -> Agent | None:
    return await session.scalar(select(Agent).where(Agent.login == login))


async def agent_by_login(session: AsyncSession, login: str) -> AgentRecord | None:
    row = await agent_row_by_login(session, login)
    return to_record(row) if row is not None else None


async def agent_by_interface(session: AsyncSession, interface: str) -> AgentRecord | None:
    row = await session.scalar(select(Agent).where(Agent.interface == interface))
    return to_record(row) if row is not None else None


async def list_agents(session: AsyncSession) -> list[AgentRecord]:
    rows = await session.scalars(select(Agent).order_by(Agent.login))
    return [to_record(row) for row in rows]


async def insert_agent(
    session: AsyncSession,
    *,
    login: str,
    display_name: str,
    password_hash: str,
    role: Role,
    interface: str | None,
) -> AgentRecord:
    row = Agent(
        login=login,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        interface=interface,
        supervised=[],  # set now: a lazy load after the flush would need I/O
    )
    session.add(row)
    await session.flush()
    return to_record(row)


async def add_supervisor_queues(
    session: AsyncSession, login: str, queues: Iterable[str]
) -> AgentRecord | None:
    """Add the queues `login` does not supervise yet; None if there is no such login."""
    row = await agent_row_by_login(session, login)
    if row is None:
        return None
    have = {q.queue for q in row.supervised}
    for queue in dict.fromkeys(queues):
        if queue not in have:
            row.supervised.append(SupervisorQueue(queue=queue))
    await session.flush()
    row.supervised.sort(key=lambda q: q.queue)
    return to_record(row)
