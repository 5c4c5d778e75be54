from __future__ import annotations

import pytest

from cti.store import ConflictError, Store


async def test_account_beats_phone(store: Store) -> None:
    ada = await store.create_customer("Ada Lovelace", account="42", phones=["15551230042"])
    grace = await store.create_customer("Grace Hopper", account="23456", phones=["15551230001"])
    # Grace's phone, but Ada's account entered in the IVR: the account wins
    assert await store.lookup_customer(account="42", phone="15551230001") == ada
    assert await store.lookup_customer(account="23456", phone="15551230042") == grace
    # an unknown account falls back to the phone
    assert await store.lookup_customer(account="99999", phone="15551230001") == grace
    assert await store.lookup_customer(account=" 42 ", phone=None) == ada
    assert await store.lookup_customer(account="", phone="15551230042") == ada
    assert await store.lookup_customer(account=None, phone=None) is None
    assert await store.lookup_customer(account="nope", phone="anonymous") is None


async def test_phone_normalization(store: Store) -> None:
    grace = await store.create_customer("Grace", account="23456", phones=["+1 (555) 123-0001"])
    assert grace.phones == ("15551230001",)
    for raw in ["15551230001", "+15551230001", "1-555-123-0001", "(555) 123-0001", "5551230001"]:
        assert await store.lookup_customer(account=None, phone=raw) == grace, raw
    assert await store.lookup_customer(account=None, phone="5551230002") is None


async def test_ten_digit_stored_matches_eleven_digit_caller(store: Store) -> None:
    local = await store.create_customer("Local", phones=["555 777 0003"])
    assert local.phones == ("5557770003",)
    assert await store.lookup_customer(account=None, phone="15557770003") == local


async def test_exact_form_wins_over_country_code_form(store: Store) -> None:
    short = await store.create_customer("Short", phones=["5551230009"])
    long = await store.create_customer("Long", phones=["15551230009"])
    assert await store.lookup_customer(account=None, phone="5551230009") == short
    assert await store.lookup_customer(account=None, phone="+1 555 123 0009") == long


async def test_create_and_get(store: Store) -> None:
    created = await store.create_customer(
        "Katherine Johnson",
        account="10003",
        phones=["15551230003", "+1 555 777 0003", "15551230003"],
        notes="orbital mechanics",
    )
    assert created.phones == ("15551230003", "15557770003")  # normalized, de-duplicated
    assert await store.customer_by_id(created.id) == created
    assert await store.customer_by_id(created.id + 1000) is None
    assert created.to_json() == {
        "id": created.id,
        "name": "Katherine Johnson",
        "account": "10003",
        "notes": "orbital mechanics",
        "phones": ["15551230003", "15557770003"],
    }


async def test_explicit_id_then_generated_ids(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42", customer_id=42)
    assert ada.id == 42
    first = await store.create_customer("Next")
    second = await store.create_customer("After")
    assert first.id > 42
    assert second.id > first.id


async def test_conflicts(store: Store) -> None:
    await store.create_customer("A", account="1", phones=["15551230001"], customer_id=7)
    with pytest.raises(ConflictError):
        await store.create_customer("B", account="1")
    with pytest.raises(ConflictError):
        await store.create_customer("C", phones=["1 555 123 0001"])
    with pytest.raises(ConflictError):
        await store.create_customer("D", customer_id=7)
    with pytest.raises(ValueError, match="no digits"):
        await store.create_customer("E", phones=["anonymous"])
    # nothing half-written by the failures
    assert await store.lookup_customer(account=None, phone="15551230001") is not None
    assert await store.customer_by_id(8) is None


async def test_lookup_json_for_the_engine(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42", phones=["15551230042"])
    assert await store.lookup_customer_json("42", "") == ada.to_json()
    assert await store.lookup_customer_json(None, "5551230042") == ada.to_json()
    assert await store.lookup_customer_json(None, "5550000000") is None


async def test_the_data_dips_customer_id_comes_first(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42", phones=["15551230042"])
    grace = await store.create_customer("Grace", account="23456", phones=["15551230001"])
    assert await store.lookup_customer_json("23456", "15551230001", ada.id) == ada.to_json()
    # an id nobody has (deleted since the dip): account, then phone, as before
    assert await store.lookup_customer_json("23456", "", 999) == grace.to_json()
    assert await store.lookup_customer_json(None, "15551230042", 999) == ada.to_json()


async def test_a_batch_answers_each_query_as_alone(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42", phones=["15551230042"])
    grace = await store.create_customer("Grace", account="23456", phones=["+1 555 123 0001"])
    short = await store.create_customer("Short", phones=["5551230009"])
    long = await store.create_customer("Long", phones=["15551230009"])
    queries: list[tuple[str | None, str | None]] = [
        ("42", "15551230001"),  # the account wins over the phone of another query's customer
        ("99999", "15551230001"),  # unknown account: the phone
        (None, "5551230009"),  # the exact form, although the batch also asks for the other
        (None, "+1 555 123 0009"),
        (" 23456 ", None),
        ("", "5551230042"),
        (None, None),
        ("nope", "anonymous"),
        ("42", "15551230042"),  # the same customer twice in one batch
    ]
    found = await store.lookup_customers(queries)
    assert found == [ada, grace, short, long, grace, ada, None, None, ada]
    for (account, phone), one in zip(queries, found, strict=True):
        assert await store.lookup_customer(account=account, phone=phone) == one
    assert await store.lookup_customers([]) == []
