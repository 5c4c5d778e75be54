"""Alembic migrations for the CTI store (run with `cti.store.migrate.migrate`)."""
