"""Run the packaged Alembic migrations in process, for SQLite and PostgreSQL.

Strategy: Alembic is configured in code (no alembic.ini at run time), pointed
at `cti/store/migrations`. Alembic is synchronous, so the upgrade runs through
`AsyncConnection.run_sync`: the same code path serves aiosqlite and psycopg
async URLs. `migrate_engine` lets the Store migrate over its own engine (which
matters for an in-memory SQLite database, where a second engine would see a
different, empty database).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cti.store.errors import MigrationError, StoreUnavailable, is_unavailable, translate_errors

__all__ = ["alembic_config", "current_revision", "head_revision", "migrate", "migrate_engine"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for the packaged migrations (url only needed by the CLI path)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a literal % must be doubled
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate_engine(engine: AsyncEngine) -> None:
    """Upgrade the database behind `engine` to head (a no-op when already there)."""
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    except Exception as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(f"migrate: {exc}") from exc
        # anything else (a revision failing, a broken script) leaves the schema behind
        raise MigrationError(f"migrate: {type(exc).__name__}: {exc}") from exc


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with translate_errors("current revision"):
        async with engine.connect() as connection:
            return await connection.run_sync(_current)


async def migrate(url: str) -> None:
    """Upgrade the database at `url` (e.g. sqlite+aiosqlite:///x.db) to head."""
    engine = create_async_engine(url)
    try:
        await migrate_engine(engine)
    finally:
        await engine.dispose()
