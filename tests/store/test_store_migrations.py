from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cti.store import Store, StoreUnavailable, migrate
from cti.store.migrate import alembic_config, current_revision, head_revision
from cti.store.tables import Base

TABLES = {
    "agents",
    "supervisor_queues",
    "teams",
    "team_members",
    "supervisor_teams",
    "customers",
    "customer_phones",
    "call_records",
    "agent_state_changes",
    "queue_intervals",
    "call_dispositions",
    "conversations",
    "conversation_members",
    "chat_messages",
    "webchats",
    "alembic_version",
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_schema_matches_the_orm(db_url: str) -> None:
    await migrate(db_url)
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES
            assert await connection.run_sync(_diff) == []
        assert await current_revision(engine) == head_revision() == "0008"
    finally:
        await engine.dispose()


async def test_migrate_twice_is_a_noop(db_url: str) -> None:
    await migrate(db_url)
    async with Store(db_url) as store:
        alice = await store.create_agent("alice", "Alice", "pw", "agent", "PJSIP/1001")
    await migrate(db_url)  # again: nothing dropped, nothing re-created
    async with Store(db_url) as store:  # start() migrates a third time
        assert await store.list_agents() == [alice]
        assert await current_revision(store.engine) == head_revision()


async def test_unreachable_postgres_is_store_unavailable() -> None:
    # port 1 on loopback: nothing listens, the connection is refused at once
    store = Store("postgresql+psycopg://postgres@127.0.0.1:1/test")
    with pytest.raises(StoreUnavailable):
        await store.start()
    with pytest.raises(RuntimeError):
        await store.list_agents()


async def test_unopenable_sqlite_is_store_unavailable(tmp_path: Any) -> None:
    with pytest.raises(StoreUnavailable):
        await migrate(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/cti.sqlite3")
    # aiosqlite stops its worker thread without awaiting it when connect fails;
    # let it report back before this test's event loop closes
    for _ in range(100):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            break
        await asyncio.sleep(0.01)


async def test_in_memory_sqlite_works() -> None:
    async with Store("sqlite+aiosqlite://") as store:
        await store.create_customer("Ada", account="42", phones=["555 1230042"])
        found = await store.lookup_customer(account=None, phone="5551230042")
        assert found is not None
        assert found.name == "Ada"


async def test_alembic_command_line_path(db_url: str) -> None:
    """env.py also works without a handed-over connection (as `alembic` runs it)."""
    config = alembic_config(db_url)
    # Alembic's commands are synchronous and env.py runs its own event loop
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.check, config)  # raises if autogenerate finds a diff
    await asyncio.to_thread(command.downgrade, config, "base")
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == {"alembic_version"}
    finally:
        await engine.dispose()
    await migrate(db_url)  # and back up again
