"""The store's exception tree; library errors are translated at the boundary.

    StoreError              anything the store could not do
    ├── StoreUnavailable    the database cannot be reached or went away
    ├── ConflictError       a unique value is already taken (login, phone...)
    └── MigrationError      the schema could not be brought to head

Strategy: callers never see SQLAlchemy, aiosqlite or psycopg exceptions. The
repositories wrap their work in `translate_errors()`, which maps them here
(`raise StoreUnavailable(...) from exc`), so the engine and the web layer
catch one small tree. Misuse of the API (a bad role, a store not started) is a
plain `ValueError` / `RuntimeError`, kept apart from failures of the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

__all__ = [
    "ConflictError",
    "MigrationError",
    "StoreError",
    "StoreUnavailable",
    "is_unavailable",
    "translate_errors",
]


class StoreError(Exception):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):  # noqa: N818 (the name reads better)
    """The database cannot be reached, refused us, or dropped the connection."""


class ConflictError(StoreError):
    """A value that must be unique is already taken."""


class MigrationError(StoreError):
    """The schema could not be migrated to head."""


def is_unavailable(exc: BaseException) -> bool:
    """True for errors meaning the database cannot be reached (not a bad query)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | TimeoutError | sa_exc.OperationalError | sa_exc.InterfaceError)


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Map database library errors raised inside the block to the store's tree."""
    try:
        yield
    except StoreError:
        raise
    except sa_exc.IntegrityError as exc:
        raise ConflictError(f"{what}: {exc.orig}") from exc
    except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(f"{what}: {exc}") from exc
        raise StoreError(f"{what}: {exc}") from exc
