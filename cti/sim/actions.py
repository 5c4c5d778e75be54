"""Reading AMI actions as a client writes them (the server side of the codec).

Strategy: cti.ami.protocol parses what Asterisk sends; a fake Asterisk must
parse the other direction. An action is "Key: Value" lines ended by a blank
line; keys are matched case-insensitively, as Asterisk does, and a key may
repeat (Originate's Variable).
"""

from __future__ import annotations

__all__ = ["first", "parse_action", "truthy"]


def parse_action(frame: bytes) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for line in frame.decode("utf-8", "replace").replace("\r\n", "\n").split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def first(pairs: list[tuple[str, str]], key: str) -> str | None:
    low = key.lower()
    for k, v in pairs:
        if k.lower() == low:
            return v
    return None


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
