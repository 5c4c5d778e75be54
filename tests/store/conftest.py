"""Fixtures running every store test on SQLite and on PostgreSQL.

`db_url` is parametrized: a SQLite file in tmp_path, and a fresh schema in the
PostgreSQL database named by CTI_TEST_POSTGRES_URL (default: user postgres,
database "test" on 127.0.0.1:5432), dropped after the test. An unreachable
PostgreSQL skips its tests on a developer's machine but fails them when CI=true,
so CI can never go green without having run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from cti.store import Store

POSTGRES_URL = os.environ.get(
    "CTI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

_unreachable: list[str] = []  # the reason, remembered so only the first test waits


def _postgres_missing(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI but unreachable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unreachable ({reason})")


@asynccontextmanager
async def postgres_schema_url() -> AsyncIterator[str]:
    """A URL whose search_path is a brand-new schema, dropped afterwards."""
    if _unreachable:
        _postgres_missing(_unreachable[0])
    schema = f"cti_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        try:
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # any failure to connect means: no PostgreSQL here
            _unreachable.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
            _postgres_missing(_unreachable[0])
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "cti.sqlite3"
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with postgres_schema_url() as url:
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    store = Store(db_url)
    await store.start()
    try:
        yield store
    finally:
        await store.close()
