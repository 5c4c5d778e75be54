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
import contextlib
import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from cti.chat.core import Appended, Conversation, ConversationKind, Member, Message
from cti.chat.routing import WebchatState
from cti.chat.webchats import WebchatChange, WebchatFilter, WebchatRecord
from cti.history.core import Disposition, HistoryEntry, HistoryFilter
from cti.metrics.buckets import StoredBucket
from cti.model.outputs import AgentStateChanged, CallEnded
from cti.store import agent_states as _agent_states
from cti.store import agents as _agents
from cti.store import calls as _calls
from cti.store import chat as _chat
from cti.store import customers as _customers
from cti.store import history as _history
from cti.store import queue_intervals as _queue_intervals
from cti.store import teams as _teams
from cti.store import webchats as _webchats
from cti.store.chat_writer import ChatWriter
from cti.store.errors import ConflictError, translate_errors
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


# SQLite transaction control (file databases). pysqlite's legacy mode, which
# aiosqlite inherits, sends no BEGIN before a SELECT and a deferred BEGIN
# before the first INSERT/UPDATE/DELETE: a transaction's reads ran outside it,
# so two nodes could both read "missing" and both insert (ConflictError). Left
# to plain BEGIN instead, a read transaction later upgraded to a write fails
# at once with "database is locked" while another connection writes (SQLite
# cannot run the busy handler there: waiting could deadlock). So we send BEGIN
# ourselves (SQLAlchemy's documented recipe, "Transactions with SQLite and the
# sqlite3 driver"): IMMEDIATE, which takes the write lock up front and waits
# for it under busy_timeout, unless the transaction is marked read-only. Those
# get no BEGIN at all: each SELECT is its own snapshot, as under legacy mode,
# so reads cost what they did (a deferred BEGIN, one snapshot for all of a
# transaction's SELECTs, measured +30% on lookup_customer: one more trip to
# aiosqlite's thread) and, under WAL, never wait for a writer.
_BEGIN = "cti_sqlite_begin"  # execution option: the BEGIN statement to send, "" for none
_BEGIN_WRITE = "BEGIN IMMEDIATE"
_BEGIN_READ = ""
# busy_timeout: how long a writer waits for the write lock before "database is
# locked" (pysqlite's default, made explicit; a URL's ?timeout= overrides it)
_BUSY_TIMEOUT_S = 5.0


def _sqlite_own_begin(dbapi_connection: Any, _record: Any) -> None:
    # None: pysqlite sends no BEGIN of its own (on aiosqlite's adapter too,
    # whose setter runs on the connection's thread); COMMIT/ROLLBACK still work
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    statement = conn.get_execution_options().get(_BEGIN, _BEGIN_WRITE)
    if statement:
        conn.exec_driver_sql(statement)


def _is_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def _create_engine(url: str, echo: bool) -> AsyncEngine:
    parsed = make_url(url)
    options: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if not _is_sqlite_file(url):
            # one shared connection, or each connection would see its own empty database
            options["poolclass"] = StaticPool
        elif "timeout" not in parsed.query:
            options["connect_args"] = {"timeout": _BUSY_TIMEOUT_S}
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys)
        if _is_sqlite_file(url):
            event.listen(engine.sync_engine, "connect", _sqlite_wal)
            # not for :memory:, whose one shared connection concurrent sessions
            # interleave on: a second explicit BEGIN there would fail
            event.listen(engine.sync_engine, "connect", _sqlite_own_begin)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
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
        # chat messages are written in batches, one transaction each (group commit)
        self.chat_writer = ChatWriter(self._write_chat_batch)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._read_engine: AsyncEngine | None = None  # the engine, marked read-only
        self._read_sessions: async_sessionmaker[AsyncSession] | None = None
        # SQLite file: this process's write transactions, one at a time. Each
        # would take its own pooled connection and poll for the database's
        # write lock (busy handler: sleeps of up to 100 ms, no queue), so under
        # load writers slept past free locks and some ran out of busy_timeout
        # ("database is locked"). Queued here they hand over on commit; only
        # other processes' writers still poll. Write transactions never nest.
        self._sqlite_writes = asyncio.Lock() if _is_sqlite_file(url) else None

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
        # same pool; on SQLite its transactions send no BEGIN (_BEGIN), elsewhere no change
        self._read_engine = engine.execution_options(**{_BEGIN: _BEGIN_READ})
        self._read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)

    async def close(self) -> None:
        await self.chat_writer.aclose()  # messages waiting for their commit
        engine, self._engine, self._sessions = self._engine, None, None
        self._read_engine = self._read_sessions = None
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
    async def _transaction(
        self, what: str, *, read_only: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """One transaction. `read_only` ones must not write: on SQLite they send
        no BEGIN, so they never wait for the write lock, and a write in one
        would commit alone at once; the others take the write lock up front."""
        sessions = self._read_sessions if read_only else self._sessions
        if sessions is None:
            raise RuntimeError("Store.start() has not been awaited")
        queue = None if read_only else self._sqlite_writes
        with translate_errors(what):
            async with queue or contextlib.nullcontext(), sessions() as session, session.begin():
                yield session

    # agents

    async def authenticate(self, login: str, password: str) -> AgentRecord | None:
        """The agent if `password` is right, else None (unknown login included)."""
        async with self._transaction("authenticate", read_only=True) as session:
            row = await _agents.agent_row_by_login(session, login)
            found = (_agents.to_record(row), row.password_hash) if row is not None else None
        if found is None:
            await asyncio.to_thread(_verify_dummy, password)
            return None
        record, encoded = found
        ok = await asyncio.to_thread(verify_password, password, encoded)
        return record if ok else None

    async def agent_by_login(self, login: str) -> AgentRecord | None:
        async with self._transaction("agent by login", read_only=True) as session:
            return await _agents.agent_by_login(session, login)

    async def agent_by_interface(self, interface: str) -> AgentRecord | None:
        async with self._transaction("agent by interface", read_only=True) as session:
            return await _agents.agent_by_interface(session, interface)

    async def list_agents(self) -> list[AgentRecord]:
        """Every agent, by login."""
        async with self._transaction("list agents", read_only=True) as session:
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

    # teams (cti/store/teams.py)

    async def put_in_team(self, team: str, logins: Iterable[str]) -> None:
        """Make `logins` members of `team` (created if missing); ValueError: unknown login."""
        if not team.strip():
            raise ValueError("team name must not be empty")
        async with self._transaction("put in team") as session:
            await _teams.put_in_team(session, team, logins)

    async def add_supervisor_teams(self, login: str, teams: Iterable[str]) -> None:
        """Let `login` look after `teams` too (idempotent); ValueError: unknown login."""
        names = [t.strip() for t in teams]
        if any(not t for t in names):
            raise ValueError("team names must not be empty")
        async with self._transaction("add supervisor teams") as session:
            await _teams.add_supervisor_teams(session, login, names)

    async def team_scope(self, login: str) -> _teams.TeamScope:
        """The teams `login` looks after and the devices of their agents."""
        async with self._transaction("team scope", read_only=True) as session:
            return await _teams.team_scope(session, login)

    async def list_teams(self) -> list[_teams.TeamRecord]:
        async with self._transaction("list teams", read_only=True) as session:
            return await _teams.list_teams(session)

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
        return (await self.lookup_customers([(account, phone)]))[0]

    async def lookup_customers(
        self, queries: Sequence[_customers.CustomerQuery]
    ) -> list[CustomerRecord | None]:
        """`lookup_customer` (without customer id) for each (account, phone), in one query."""
        with translate_errors("lookup customers"):
            if self._read_engine is None:
                raise RuntimeError("Store.start() has not been awaited")
            async with self._read_engine.connect() as conn:
                return await _customers.lookup_customers(conn, queries)

    async def lookup_customer_json(
        self, account: str | None, phone: str | None, customer_id: int | None = None
    ) -> dict[str, Any] | None:
        """`lookup_customer` as a JSON-ready dict."""
        found = await self.lookup_customer(account=account, phone=phone, customer_id=customer_id)
        return found.to_json() if found is not None else None

    async def customer_by_id(self, customer_id: int) -> CustomerRecord | None:
        async with self._transaction("customer by id", read_only=True) as session:
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
        async with self._transaction("open agent states", read_only=True) as session:
            return await _agent_states.open_agent_states(session)

    async def agent_state_rows(
        self, start: datetime, end: datetime, interface: str | None = None
    ) -> list[_agent_states.AgentStateRecord]:
        """State rows overlapping [start, end), oldest first (time in state per agent)."""
        async with self._transaction("agent state rows", read_only=True) as session:
            return await _agent_states.state_rows(session, start, end, interface)

    # queue metric buckets (migration 0004)

    async def save_queue_intervals(self, buckets: Sequence[StoredBucket]) -> None:
        """Upsert whole metric buckets, in one transaction (idempotent)."""
        if not buckets:
            return
        async with self._transaction("save queue intervals") as session:
            await _queue_intervals.save_queue_intervals(session, buckets)

    async def load_queue_intervals(self, since: float) -> list[StoredBucket]:
        """Metric buckets starting at or after `since` (epoch seconds), read at start-up."""
        async with self._transaction("load queue intervals", read_only=True) as session:
            return await _queue_intervals.load_queue_intervals(session, since)

    async def recent_call_records(self, limit: int = 50) -> list[CallRecord]:
        """The most recently ended calls, newest first."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        async with self._transaction("recent call records", read_only=True) as session:
            return await _calls.recent_call_records(session, limit)

    # call history (migration 0005): cti.history.service is the caller

    async def search_history(self, f: HistoryFilter) -> list[HistoryEntry]:
        """Call records matching `f` (scope and filters), newest first, with dispositions."""
        async with self._transaction("search history", read_only=True) as session:
            return await _history.search_history(session, f)

    async def history_entry(self, call_id: str) -> HistoryEntry | None:
        async with self._transaction("history entry", read_only=True) as session:
            return await _history.history_entry(session, call_id)

    async def set_call_disposition(self, d: Disposition) -> None:
        """Set (or replace) a call's disposition; the call need not be recorded yet."""
        async with self._transaction("set call disposition") as session:
            await _history.set_disposition(session, d)

    async def call_disposition(self, call_id: str) -> Disposition | None:
        async with self._transaction("call disposition", read_only=True) as session:
            return await _history.disposition(session, call_id)

    # chat (migration 0007): cti.chat.service is the caller

    async def chat_conversation(self, conversation_id: int) -> Conversation | None:
        async with self._transaction("chat conversation", read_only=True) as session:
            return await _chat.conversation(session, conversation_id)

    async def chat_conversations_for(self, login: str) -> list[Conversation]:
        """The conversations `login` is a member of, by id."""
        async with self._transaction("chat conversations", read_only=True) as session:
            return await _chat.conversations_for(session, login)

    async def chat_create_room(
        self, name: str, logins: Sequence[str], at: datetime
    ) -> Conversation:
        async with self._transaction("chat create room") as session:
            return await _chat.create_conversation(session, "room", name, logins, at)

    async def chat_open_direct(
        self, key: str, logins: tuple[str, str], at: datetime
    ) -> Conversation:
        """The direct conversation with `key`, created if new."""
        return await self.chat_open_keyed(key, "direct", None, logins, at)

    async def chat_open_keyed(
        self,
        key: str,
        kind: ConversationKind,
        name: str | None,
        logins: Sequence[str],
        at: datetime,
    ) -> Conversation:
        """The conversation with `unique_key` `key`, created if new (one per key,
        even when two open it at once); `logins` not yet in it are added."""
        for attempt in range(2):
            try:
                async with self._transaction("chat open keyed") as session:
                    found = await _chat.keyed_conversation(session, key)
                    if found is None:
                        return await _chat.create_conversation(
                            session, kind, name, logins, at, unique_key=key
                        )
                    if set(logins) <= set(found.logins()):
                        return found
                    added = await _chat.add_members(session, found.id, logins, at)
                    assert added is not None
                    return added
            except ConflictError:  # created by someone else meanwhile: read it
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def chat_add_members(
        self, conversation_id: int, logins: Sequence[str], at: datetime
    ) -> Conversation | None:
        async with self._transaction("chat add members") as session:
            return await _chat.add_members(session, conversation_id, logins, at)

    async def chat_remove_members(self, conversation_id: int, logins: Sequence[str]) -> int:
        """Take `logins` out of the conversation (they lose read and post); how many were in."""
        async with self._transaction("chat remove members") as session:
            return await _chat.remove_members(session, conversation_id, logins)

    async def chat_append(
        self,
        conversation_id: int,
        sender: str,
        text: str,
        at: datetime,
        client_id: str | None = None,
    ) -> Appended | None:
        """Store one message, numbered; None if `sender` is not a member. Returns
        only once committed. A `client_id` this sender used before in the
        conversation returns that message (`created` False), storing nothing."""
        item = _chat.NewMessage(conversation_id, sender, text, at, client_id)
        return await self.chat_writer.append(item)

    async def _write_chat_batch(self, items: Sequence[_chat.NewMessage]) -> list[Appended | None]:
        async with self._transaction("chat append") as session:
            return await _chat.append_messages(session, items)

    async def chat_messages(
        self, conversation_id: int, *, after: int | None, before: int | None, limit: int
    ) -> list[Message]:
        if limit < 0:
            raise ValueError("limit must not be negative")
        async with self._transaction("chat messages", read_only=True) as session:
            return await _chat.messages(
                session, conversation_id, after=after, before=before, limit=limit
            )

    async def chat_mark(
        self,
        conversation_id: int,
        login: str,
        *,
        read: int | None = None,
        delivered: int | None = None,
    ) -> Member | None:
        async with self._transaction("chat mark") as session:
            return await _chat.mark(session, conversation_id, login, read=read, delivered=delivered)

    # customer web chats (migration 0008): cti.web.webchat_service is the caller

    async def webchat_open(
        self, key: str, name: str | None, customer: str, queue: str, at: datetime
    ) -> tuple[Conversation, WebchatRecord]:
        """A customer conversation with `customer` in it and its waiting chat, together."""
        async with self._transaction("webchat open") as session:
            return await _webchats.open_webchat(session, key, name, customer, queue, at)

    async def webchat_save(
        self,
        chat: WebchatState,
        change: WebchatChange,
        at: datetime,
        *,
        join: Sequence[str] = (),
        leave: Sequence[str] = (),
    ) -> bool:
        """Store `chat` over version `chat.version`, with the members joining and
        leaving, in one transaction; False if the stored chat changed meanwhile."""
        async with self._transaction("webchat save") as session:
            return await _webchats.save_webchat(session, chat, change, at, join=join, leave=leave)

    async def webchat(self, conversation_id: int) -> WebchatRecord | None:
        async with self._transaction("webchat", read_only=True) as session:
            return await _webchats.webchat(session, conversation_id)

    async def webchats_open(self) -> list[WebchatRecord]:
        """The chats not ended, oldest first (read at start-up)."""
        async with self._transaction("webchats open", read_only=True) as session:
            return await _webchats.open_webchats(session)

    async def webchats_ended(self, f: WebchatFilter) -> list[WebchatRecord]:
        """Ended chats in `f`'s scope and filters, newest end first."""
        if f.limit < 0 or f.offset < 0:
            raise ValueError("limit and offset must not be negative")
        async with self._transaction("webchats ended", read_only=True) as session:
            return await _webchats.ended_webchats(session, f)
