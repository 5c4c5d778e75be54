"""Phone number normalization for customer look-ups (pure).

Strategy: numbers are stored as digits only. A caller id may arrive with or
without the North American country code 1 ("15551230001" vs "5551230001"), so
a look-up tries both forms for 10- and 11-digit NANP numbers, exact form first.
"""

from __future__ import annotations

__all__ = ["normalize_phone", "phone_candidates"]


def normalize_phone(raw: str) -> str:
    """Keep the ASCII digits only: "+1 (555) 123-0001" -> "15551230001"."""
    return "".join(ch for ch in raw if "0" <= ch <= "9")


def phone_candidates(raw: str) -> tuple[str, ...]:
    """The stored forms that may match `raw`, the exact form first; () if no digits."""
    digits = normalize_phone(raw)
    if not digits:
        return ()
    if len(digits) == 11 and digits.startswith("1"):
        return (digits, digits[1:])
    if len(digits) == 10:
        return (digits, "1" + digits)
    return (digits,)
