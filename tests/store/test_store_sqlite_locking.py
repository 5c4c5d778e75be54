"""SQLite under concurrency: two Stores (two nodes) on one database file.

Each Store has its own pool, so their transactions run on separate SQLite
connections and meet at the database's single write lock. Read-then-write
transactions (read the agent's queues, insert the missing ones) must neither
fail with "database is locked" (a deferred read transaction upgraded to a write
while the other node writes) nor see a stale read and collide (SELECTs run
outside the transaction, pysqlite's legacy mode); reads must not queue behind
a writer (WAL, and no write lock taken for them). Within one Store, write
transactions queue for each other rather than poll SQLite's lock, shown with
busy_timeout 0 (under which a write finding the lock taken fails at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cti.store import Store

ROUNDS = 200


@pytest.fixture
async def two_stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with Store(url) as a, Store(url) as b:
        yield a, b


async def test_concurrent_read_then_write_transactions_all_commit(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = two_stores
    await a.create_agent("sup", "Supervisor", "pw", role="supervisor")
    failures: list[BaseException] = []
    for i in range(ROUNDS):
        # the same queue from both (idempotent), and one of each's own
        results = await asyncio.gather(
            a.add_supervisor_queues("sup", [f"q{i:03}", f"a{i:03}"]),
            b.add_supervisor_queues("sup", [f"q{i:03}", f"b{i:03}"]),
            return_exceptions=True,
        )
        failures += [r for r in results if isinstance(r, BaseException)]
    shown = [f"{type(f).__name__}: {f}"[:160] for f in failures[:3]]
    assert (len(failures), shown) == (0, [])
    found = await b.agent_by_login("sup")
    assert found is not None
    expected = {f"{p}{i:03}" for i in range(ROUNDS) for p in "qab"}
    assert set(found.queues) == expected
    assert len(found.queues) == 3 * ROUNDS


async def test_reads_do_not_wait_for_another_nodes_writer(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = two_stores
    await a.create_agent("alice", "Alice", "pw")
    async with a.engine.begin() as writer:  # holds the write lock until the block ends
        await writer.execute(
            text("UPDATE agents SET display_name = 'Alice B' WHERE login = 'alice'")
        )
        # well under the busy timeout: a read queued behind the lock would time out here
        seen = await asyncio.wait_for(b.agent_by_login("alice"), timeout=2.0)
        listed = await asyncio.wait_for(b.list_agents(), timeout=2.0)
    assert seen is not None
    assert seen.display_name == "Alice"  # the committed value
    assert [r.login for r in listed] == ["alice"]
    after = await b.agent_by_login("alice")
    assert after is not None
    assert after.display_name == "Alice B"


async def test_one_stores_writes_never_wait_for_the_lock_among_themselves(
    tmp_path: Path,
) -> None:
    # busy_timeout 0: a write that found the lock taken would fail at once
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}?timeout=0"
    async with Store(url) as store:
        results = await asyncio.gather(
            *(store.create_customer(f"C{i}", account=f"{i:04}") for i in range(ROUNDS)),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        shown = [f"{type(f).__name__}: {f}"[:160] for f in failures[:3]]
        assert (len(failures), shown) == (0, [])
        for i in range(ROUNDS):
            found = await store.lookup_customer(account=f"{i:04}", phone=None)
            assert found is not None
            assert found.name == f"C{i}"
