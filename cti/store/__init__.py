"""The CTI's database: SQLAlchemy 2 tables, Alembic migrations, repositories.

Use `Store(url)`: `await store.start()` migrates to head and opens the engine;
its methods return frozen records from `cti.store.records` and raise only
`cti.store.errors`. `seed_demo(store)` adds the demo agents and customers.
"""

from cti.store.errors import ConflictError, MigrationError, StoreError, StoreUnavailable
from cti.store.migrate import migrate
from cti.store.passwords import hash_password, needs_rehash, verify_password
from cti.store.phones import normalize_phone, phone_candidates
from cti.store.records import ROLES, AgentRecord, CallRecord, CustomerRecord, Role
from cti.store.seed import DEMO_PASSWORD, SeedReport, seed_demo
from cti.store.store import Store

__all__ = [
    "DEMO_PASSWORD",
    "ROLES",
    "AgentRecord",
    "CallRecord",
    "ConflictError",
    "CustomerRecord",
    "MigrationError",
    "Role",
    "SeedReport",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "hash_password",
    "migrate",
    "needs_rehash",
    "normalize_phone",
    "phone_candidates",
    "seed_demo",
    "verify_password",
]
