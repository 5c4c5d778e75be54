from __future__ import annotations

import pytest

from cti.store.passwords import hash_password, needs_rehash, verify_password


def test_right_and_wrong_password() -> None:
    encoded = hash_password("demo")
    assert verify_password("demo", encoded)
    assert not verify_password("Demo", encoded)
    assert not verify_password("", encoded)


def test_format_is_versioned_and_salted() -> None:
    first, second = hash_password("demo"), hash_password("demo")
    assert first != second  # a random salt each time
    scheme, version, log_n, r, p, salt, key = first.split("$")
    assert (scheme, version) == ("scrypt", "1")
    assert int(log_n) >= 14
    assert int(r) >= 8
    assert int(p) >= 1
    assert salt
    assert key
    assert not needs_rehash(first)


def test_unicode_password() -> None:
    encoded = hash_password("José ✓")
    assert verify_password("José ✓", encoded)
    assert not verify_password("Jose ✓", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain",
        "bcrypt$1$14$8$1$c2FsdA$a2V5",
        "scrypt$2$14$8$1$c2FsdA$a2V5",  # unknown version
        "scrypt$1$x$8$1$c2FsdA$a2V5",
        "scrypt$1$40$8$1$c2FsdA$a2V5",  # absurd cost is refused, not computed
        "scrypt$1$14$8$1$$a2V5",
        "scrypt$1$14$8$1$c2FsdA$!!!",
    ],
)
def test_malformed_hash_never_verifies_nor_raises(encoded: str) -> None:
    assert not verify_password("demo", encoded)
    assert needs_rehash(encoded)


def test_tampered_key_fails() -> None:
    encoded = hash_password("demo")
    head, key = encoded.rsplit("$", 1)
    flipped = ("A" if key[0] != "A" else "B") + key[1:]
    assert not verify_password("demo", f"{head}${flipped}")
