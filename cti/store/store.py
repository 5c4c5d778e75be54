"""`Store`: the async engine, its sessions, and the repositories behind one object.

Strategy: `Store(url)` does no I/O until `await start()`, which creates the
engine and migrates the schema to head; `close()` disposes of the engine.
Every public method is one short transaction wrapped in `translate_errors`,
so callers only ever see `cti.store.errors` and frozen records. The per-concept
queries live in agents.py, customers.py and calls.py; this class only opens
transactions, runs scrypt off the event loop, and checks arguments.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from cti.model.outputs import AgentStateChanged, CallEnded
from cti.store import agent_states as _agent_states
from cti.store import agents as _agents
from cti.store import calls as _calls
from cti.store import customers as _customers
from cti.store.errors import translate_errors
from cti.store.migrate import migrate_engine
from cti.store.passwords import hash_password, verify_password
from cti.store.records import AgentRecord, CallRecord, CustomerRecord

__all__ = ["Store"]


@functools.cache
def _dummy_hash() -> str:
    # verified against when the login is unknown, so both paths cost one scrypt
    return hash_password("not-a-real-password")


def _verify_dummy(password: str) -> None:
    verify_password(password, _dummy_hash())


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    # Readers (customer look-ups) no longer wait for a writer's commit, and
    # NORMAL syncs at checkpoints rather than every commit: a crash may lose
    # the last commits' durability, never the file's consistency.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create_engine(url: str, echo: bool) -> AsyncEngine:
    parsed = make_url(url)
    options: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # one shared connection, or each connection would see its own empty database
            options["poolclass"] = StaticPool
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys)
        if parsed.database not in (None, "", ":memory:"):
            event.listen(engine.sync_engine, "connect", _sqlite_wal)
        return engine
    options["pool_pre_ping"] = True  # survive a database restart between calls
    if parsed.get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": 5}
    return create_async_engine(url, **options)


class Store:
    """The CTI's database. Use `async with Store(url) as store:` or start()/close()."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Store.start() has not been awaited")
        return self._engine

    async def start(self) -> None:
        """Create the engine and migrate the schema to head (idempotent)."""
        if self._engine is not None:
            return
        engine = _create_engine(self.url, self._echo)
        try:
            await migrate_engine(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def close(self) -> None:
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def __aenter__(self) -> Store:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _transaction(self, what: str) -> AsyncIterator[AsyncSession]:
        if self._sessions is None:
            raise RuntimeError("Store.start() has not been awaited")
        with translate_errors(what):
            async with self._sessions() as session, session.begin():
                yield session

    # agents

    async def authenticate(self, login: str, password: str) -> AgentRecord | None:
        """The agent if `password` is right, else None (unknown login included)."""
        async with self._transaction("authenticate") as session:
            row = await _agents.agent_row_by_login(session, login)
            found = (_agents.to_record(row), row.password_hash) if row is not None else None
        if found is None:
            await asyncio.to_thread(_verify_dummy, password)
            return None
        record, encoded = found
        ok = await asyncio.to_thread(verify_password, password, encoded)
        return record if ok else None

    async def agent_by_login(self, login: str) -> AgentRecord | None:
        async with self._transaction("agent by login") as session:
            return await _agents.agent_by_login(session, login)

    async def agent_by_interface(self, interface: str) -> AgentRecord | None:
        async with self._transaction("agent by interface") as session:
            return await _agents.agent_by_interface(session, interface)

    async def list_agents(self) -> list[AgentRecord]:
        """Every agent, by login."""
        async with self._transaction("list agents") as session:
            return await _agents.list_agents(session)

    async def create_agent(
        self,
        login: str,
        display_name: str,
        password: str,
        role: str = "agent",
        interface: str | None = None,
    ) -> AgentRecord:
        """Raises ConflictError if the login or the interface is taken, ValueError on bad input."""
        checked_role = _agents.check_role(role)
        if not login.strip():
            raise ValueError("login must not be empty")
        encoded = await asyncio.to_thread(hash_password, password)
        async with self._transaction("create agent") as session:
            return await _agents.insert_agent(
                session,
                login=login,
                display_name=display_name,
                password_hash=encoded,
                role=checked_role,
                interface=interface,
            )

    async def add_supervisor_queues(self, login: str, queues: Iterable[str]) -> AgentRecord:
        """Let `login` act on the calls of `queues` too (idempotent).

        Raises ValueError for an unknown login or an empty queue name.
        """
        names = [q.strip() for q in queues]
        if any(not q for q in names):
            raise ValueError("queue names must not be empty")
        async with self._transaction("add supervisor queues") as session:
            record = await _agents.add_supervisor_queues(session, login, names)
        if record is None:
            raise ValueError(f"no agent with login {login!r}")
        return record

    # customers

    async def lookup_customer(
        self, *, account: str | None, phone: str | None, customer_id: int | None = None
    ) -> CustomerRecord | None:
        """By the data dip's customer id, then account, then phone (normalized;
        NANP with or without the 1). An id that matches nobody (a customer
        deleted since the dip) falls back to the account and phone."""
        if customer_id is not None:
            found = await self.customer_by_id(customer_id)
            if found is not None:
                return found
        with translate_errors("lookup customer"):
            async with self.engine.connect() as conn:
                return await _customers.lookup_customer(conn, account=account, phone=phone)

    async def lookup_customer_json(
        self, account: str | None, phone: str | None, customer_id: int | None = None
    ) -> dict[str, Any] | None:
        """`lookup_customer` as a JSON-ready dict."""
        found = await self.lookup_customer(account=account, phone=phone, customer_id=customer_id)
        return found.to_json() if found is not None else None

    async def customer_by_id(self, customer_id: int) -> CustomerRecord | None:
        async with self._transaction("customer by id") as session:
            return await _customers.customer_by_id(session, customer_id)

    async def create_customer(
        self,
        name: str,
        *,
        account: str | None = None,
        phones: Iterable[str] = (),
        notes: str = "",
        customer_id: int | None = None,
    ) -> CustomerRecord:
        """Raises ConflictError if the id, account or a phone is taken, ValueError on bad input."""
        numbers = _customers.normalize_phones(phones)
        account = account.strip() if account else None
        async with self._transaction("create customer") as session:
            return await _customers.insert_customer(
                session,
                name=name,
                account=account or None,
                phones=numbers,
                notes=notes,
                customer_id=customer_id,
            )

    # call records

    async def save_call_record(self, ended: CallEnded, customer_id: int | None = None) -> None:
        """Write a finished call, idempotent by call id (fits the engine's RecordSink).

        Writing the same call again changes nothing, except that a real hang-up
        replaces a record a resync had to guess (`ended_by_resync`).
        """
        async with self._transaction("save call record") as session:
            await _calls.upsert_call_record(session, ended, customer_id)

    async def save_call_records(self, records: Sequence[tuple[CallEnded, int | None]]) -> None:
        """Write many finished calls in one transaction (the engine's RecordSink)."""
        if not records:
            return
        async with self._transaction("save call records") as session:
            await _calls.upsert_call_records(session, records)

    # agent states (migration 0003)

    async def save_agent_states(self, changes: Sequence[AgentStateChanged]) -> None:
        """Close each agent's open state row and open the new one, in one transaction."""
        if not changes:
            return
        async with self._transaction("save agent states") as session:
            await _agent_states.save_agent_states(session, changes)

    async def open_agent_states(self) -> list[_agent_states.AgentStateRecord]:
        """Each agent's current state row (ended_at None), read at start-up."""
        async with self._transaction("open agent states") as session:
            return await _agent_states.open_agent_states(session)

    async def agent_state_rows(
        self, start: datetime, end: datetime, interface: str | None = None
    ) -> list[_agent_states.AgentStateRecord]:
        """State rows overlapping [start, end), oldest first (time in state per agent)."""
        async with self._transaction("agent state rows") as session:
            return await _agent_states.state_rows(session, start, end, interface)

    async def recent_call_records(self, limit: int = 50) -> list[CallRecord]:
        """The most recently ended calls, newest first."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        async with self._transaction("recent call records") as session:
            return await _calls.recent_call_records(session, limit)
