"""SQLAlchemy 2 declarative tables: agents (and the queues supervisors look after),
customers and their phones, call records.

Strategy: the ORM classes stay inside `cti.store`; repositories turn rows into
frozen records before anything leaves the package. Constraint names follow one
naming convention so Alembic migrations name them identically on SQLite and
PostgreSQL. Timestamps go through `UtcDateTime`: stored as UTC (SQLite keeps
no offset, PostgreSQL uses timestamptz) and always read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Agent",
    "AgentStateRow",
    "Base",
    "CallRecordRow",
    "Customer",
    "CustomerPhone",
    "SupervisorQueue",
    "UtcDateTime",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:  # SQLite stores the UTC wall time without an offset
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # None for desk-less users (an admin without a phone)
    interface: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    supervised: Mapped[list[SupervisorQueue]] = relationship(
        cascade="all, delete-orphan", order_by="SupervisorQueue.queue", lazy="selectin"
    )


class SupervisorQueue(Base):
    """A queue whose calls a supervisor may act on (listen, whisper, barge, ...)."""

    __tablename__ = "supervisor_queues"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(128), primary_key=True)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(64), unique=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        order_by="CustomerPhone.id",
        lazy="selectin",
    )


class CustomerPhone(Base):
    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # digits only, as normalized by cti.store.phones.normalize_phone
    number: Mapped[str] = mapped_column(String(32), unique=True, index=True)

    customer: Mapped[Customer] = relationship(back_populates="phones")


class CallRecordRow(Base):
    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the Linkedid
    caller_number: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(200))
    dialed_number: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))
    answered_by: Mapped[str | None] = mapped_column(String(128), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    # {"path": [{"step", "values", "at"}...], "variables": {CTI_*: value}}
    ivr: Mapped[dict[str, Any]] = mapped_column(JSON)
    account: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    # a record found ended by a resync may be replaced by a real hang-up
    ended_by_resync: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentStateRow(Base):
    """One spell of an agent in one work state (migration 0003).

    `ended_at` is None while the agent is still in it: the open rows tell a
    restarted CTI since when each agent is in their state.
    """

    __tablename__ = "agent_state_changes"
    __table_args__ = (
        Index("ix_agent_state_changes_interface_started_at", "interface", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interface: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
