"""Agent repository: look-ups and creation over an open session.

Strategy: plain async functions taking an `AsyncSession`; `Store` owns the
transaction and the error translation. Password hashing is CPU-bound (scrypt),
so it runs in a worker thread and never inside an open transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.ids import AgentLogin, Interface
from cti.store.records import ROLES, AgentRecord, Role
from cti.store.tables import Agent

__all__ = [
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
    )
    session.add(row)
    await session.flush()
    return to_record(row)
