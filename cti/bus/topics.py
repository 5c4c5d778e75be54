"""Topic names and patterns, with AMQP topic-exchange semantics (pure, no I/O).

Strategy: one matcher for both buses, so a pattern means the same thing in
process and on RabbitMQ. A topic is dot-separated words ("chat.conv.42");
a pattern may use `*` for exactly one word and `#` for zero or more words
("chat.#", "hub.*.supervisor"). The rules are RabbitMQ's, so AmqpBus can hand
a pattern to the broker as a binding key unchanged and still match locally
with `matches` when one queue carries several bindings.

Bad names are a caller's mistake: `ValueError` naming the topic and the rule.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = ["MAX_TOPIC_BYTES", "check_pattern", "check_topic", "matches"]

# AMQP routing keys are short strings: at most 255 bytes.
MAX_TOPIC_BYTES: Final = 255
_WORD = re.compile(r"[A-Za-z0-9_:\-]+")


def _check(text: str, what: str, wildcards: bool) -> tuple[str, ...]:
    if not text:
        raise ValueError(f"{what} must not be empty")
    if len(text.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"{what} {text[:40]!r}... is longer than {MAX_TOPIC_BYTES} bytes")
    words = tuple(text.split("."))
    for word in words:
        if wildcards and word in ("*", "#"):
            continue
        if not _WORD.fullmatch(word):
            allowed = "letters, digits, _ : -" + (", or a whole * or #" if wildcards else "")
            raise ValueError(f"{what} {text!r}: word {word!r} must be {allowed}")
    return words


@lru_cache(maxsize=8192)  # checked on every publish: topics repeat
def check_topic(topic: str) -> str:
    """`topic` if it is a valid concrete topic (no wildcards), else ValueError."""
    _check(topic, "topic", wildcards=False)
    return topic


def check_pattern(pattern: str) -> str:
    """`pattern` if it is a valid topic pattern (`*` and `#` allowed), else ValueError."""
    _check(pattern, "topic pattern", wildcards=True)
    return pattern


def _match(pattern: tuple[str, ...], topic: tuple[str, ...]) -> bool:
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head == "#":  # zero or more words: try every split
        return any(_match(rest, topic[i:]) for i in range(len(topic) + 1))
    if not topic:
        return False
    return (head == "*" or head == topic[0]) and _match(rest, topic[1:])


@lru_cache(maxsize=8192)
def matches(pattern: str, topic: str) -> bool:
    """Whether `topic` is routed to a binding with `pattern` (RabbitMQ's rules)."""
    if "*" not in pattern and "#" not in pattern:
        return pattern == topic
    return _match(tuple(pattern.split(".")), tuple(topic.split(".")))
