"""Customer repository: look-up by account or phone, creation.

Strategy: an account entered in the IVR is deliberate, a caller id may be a
shared line, so the account wins: it is tried first and the phone only when no
customer has that account. Phones are matched on normalized digits, with and
without the NANP country code (see `cti.store.phones`), the exact form first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cti.store.phones import normalize_phone, phone_candidates
from cti.store.records import CustomerRecord
from cti.store.tables import Customer, CustomerPhone

__all__ = [
    "CustomerQuery",
    "customer_by_id",
    "insert_customer",
    "lookup_customers",
    "normalize_phones",
]


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


def _lookup_statement() -> Select[int, str, str | None, str, str | None]:
    customers, phones = Customer.__table__, CustomerPhone.__table__
    by_phone = select(phones.c.customer_id).where(
        phones.c.number.in_(bindparam("numbers", expanding=True))
    )
    return (
        select(customers.c.id, customers.c.name, customers.c.account, customers.c.notes)
        .add_columns(phones.c.number)
        .select_from(customers.outerjoin(phones, phones.c.customer_id == customers.c.id))
        .where(
            or_(
                customers.c.account.in_(bindparam("accounts", expanding=True)),
                customers.c.id.in_(by_phone),
            )
        )
        .order_by(customers.c.id, phones.c.id)
    )


# Built once: look-ups run for every inbound call, and one Core statement with
# a cached compiled form costs a fraction of the ORM's two or three queries.
_LOOKUP = _lookup_statement()

# (account, phone) as typed in the IVR and shown by the caller id
CustomerQuery = tuple[str | None, str | None]


async def lookup_customers(
    conn: AsyncConnection, queries: Sequence[CustomerQuery]
) -> list[CustomerRecord | None]:
    """The customer of each (account, phone) query, in one round trip: under
    load the queries of several calls share it (cti.customers.LookupBatcher)."""
    asked = [
        (account.strip() if account else None, phone_candidates(phone) if phone else ())
        for account, phone in queries
    ]
    accounts = sorted({account for account, _ in asked if account})
    numbers = sorted({number for _, candidates in asked for number in candidates})
    if not accounts and not numbers:
        return [None] * len(asked)
    result = await conn.execute(_LOOKUP, {"accounts": accounts, "numbers": numbers})
    found: dict[int, CustomerRecord] = {}
    for cid, name, acct, notes, number in result:
        known = found.get(cid)
        numbers_of = known.phones if known else ()
        if number is not None:
            numbers_of = (*numbers_of, number)
        found[cid] = CustomerRecord(id=cid, name=name, account=acct, notes=notes, phones=numbers_of)
    records = list(found.values())
    return [_choose(records, account, candidates) for account, candidates in asked]


def _choose(
    records: Sequence[CustomerRecord], account: str | None, candidates: Sequence[str]
) -> CustomerRecord | None:
    """The account's customer, else the first phone form's (exact before the other NANP form)."""
    if account:
        for record in records:
            if record.account == account:
                return record
    for candidate in candidates:
        for record in records:
            if candidate in record.phones:
                return record
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
