"""Customer repository: look-up by account or phone, creation.

Strategy: an account entered in the IVR is deliberate, a caller id may be a
shared line, so the account wins: it is tried first and the phone only when no
customer has that account. Phones are matched on normalized digits, with and
without the NANP country code (see `cti.store.phones`), the exact form first.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.phones import normalize_phone, phone_candidates
from cti.store.records import CustomerRecord
from cti.store.tables import Customer, CustomerPhone

__all__ = ["customer_by_id", "insert_customer", "lookup_customer", "normalize_phones"]


def _to_record(row: Customer) -> CustomerRecord:
    return CustomerRecord(
        id=row.id,
        name=row.name,
        account=row.account,
        notes=row.notes,
        phones=tuple(phone.number for phone in row.phones),
    )


def normalize_phones(phones: Iterable[str]) -> tuple[str, ...]:
    """Digits-only, de-duplicated, order kept; a number with no digits is an error."""
    seen: dict[str, None] = {}
    for raw in phones:
        digits = normalize_phone(raw)
        if not digits:
            raise ValueError(f"phone number {raw!r} has no digits")
        seen.setdefault(digits, None)
    return tuple(seen)


async def customer_by_id(session: AsyncSession, customer_id: int) -> CustomerRecord | None:
    row = await session.get(Customer, customer_id)
    return _to_record(row) if row is not None else None


async def lookup_customer(
    session: AsyncSession, *, account: str | None, phone: str | None
) -> CustomerRecord | None:
    account = account.strip() if account else None
    if account:
        row = await session.scalar(select(Customer).where(Customer.account == account))
        if row is not None:
            return _to_record(row)
    candidates = phone_candidates(phone) if phone else ()
    if not candidates:
        return None
    rows = await session.execute(
        select(CustomerPhone.number, Customer)
        .join(Customer, CustomerPhone.customer_id == Customer.id)
        .where(CustomerPhone.number.in_(candidates))
    )
    by_number = {number: customer for number, customer in rows}
    for candidate in candidates:  # exact form before the other NANP form
        if candidate in by_number:
            return _to_record(by_number[candidate])
    return None


async def insert_customer(
    session: AsyncSession,
    *,
    name: str,
    account: str | None,
    phones: tuple[str, ...],
    notes: str,
    customer_id: int | None,
) -> CustomerRecord:
    row = Customer(name=name, account=account, notes=notes)
    if customer_id is not None:
        row.id = customer_id
    row.phones = [CustomerPhone(number=number) for number in phones]
    session.add(row)
    await session.flush()
    if customer_id is not None and session.get_bind().dialect.name == "postgresql":
        # an explicit id does not advance the serial; move it past the largest id
        top = await session.scalar(select(func.max(Customer.id)))
        await session.execute(
            text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :top)"),
            {"top": max(top or 1, 1)},
        )
    return _to_record(row)
