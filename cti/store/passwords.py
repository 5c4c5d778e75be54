"""Password hashing with stdlib scrypt, in a versioned self-describing format.

Strategy: `scrypt$1$<log2 n>$<r>$<p>$<salt>$<key>` (salt and key in unpadded
urlsafe base64). The version and the cost parameters travel with the hash, so
the cost can be raised later and old hashes still verify; `needs_rehash` says
when one should be replaced. Comparison is constant-time. A malformed hash
never raises from `verify_password`: it simply does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "needs_rehash", "verify_password"]

_SCHEME = "scrypt"
_VERSION = "1"
_LOG_N = 14  # n = 16384: ~50 ms and 16 MiB per hash on this machine class
_R = 8
_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_LOG_N = 20  # refuse absurd costs from a tampered hash


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, log_n: int, r: int, p: int, length: int) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p,
        dklen=length,
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, _LOG_N, _R, _P, _KEY_BYTES)
    return f"{_SCHEME}${_VERSION}${_LOG_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 7 or parts[0] != _SCHEME or parts[1] != _VERSION:
        return None
    try:
        log_n, r, p = int(parts[2]), int(parts[3]), int(parts[4])
        salt, key = _unb64(parts[5]), _unb64(parts[6])
    except ValueError:  # binascii.Error is a ValueError
        return None
    if not (1 <= log_n <= _MAX_LOG_N and 1 <= r <= 32 and 1 <= p <= 16 and salt and key):
        return None
    return log_n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    parsed = _parse(encoded)
    if parsed is None:
        return False
    log_n, r, p, salt, key = parsed
    candidate = _derive(password, salt, log_n, r, p, len(key))
    return hmac.compare_digest(candidate, key)


def needs_rehash(encoded: str) -> bool:
    """True when `encoded` is not in the current format with the current cost."""
    parsed = _parse(encoded)
    return parsed is None or parsed[:3] != (_LOG_N, _R, _P)
