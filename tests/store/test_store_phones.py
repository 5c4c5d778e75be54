from __future__ import annotations

import pytest

from cti.store.phones import normalize_phone, phone_candidates


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+1 (555) 123-0001", "15551230001"),
        ("555.123.0001", "5551230001"),
        ("  1001 ", "1001"),
        ("anonymous", ""),
        ("", ""),
        ("١٢٣", ""),  # non-ASCII digits are not phone digits here
    ],
)
def test_normalize(raw: str, digits: str) -> None:
    assert normalize_phone(raw) == digits


def test_candidates_nanp() -> None:
    assert phone_candidates("+1 555 123 0001") == ("15551230001", "5551230001")
    assert phone_candidates("(555) 123-0001") == ("5551230001", "15551230001")


def test_candidates_other_lengths() -> None:
    assert phone_candidates("1001") == ("1001",)
    assert phone_candidates("25551230001") == ("25551230001",)  # 11 digits, not NANP
    assert phone_candidates("+44 20 7946 0958") == ("442079460958",)
    assert phone_candidates("unknown") == ()
