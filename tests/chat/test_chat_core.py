"""The pure chat core: text and name checks, direct keys, unread counts, the token bucket."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cti.chat import (
    MAX_TEXT_CHARS,
    ChatError,
    Conversation,
    Member,
    Message,
    RateLimiter,
    check_room_name,
    check_text,
    direct_key,
)

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def refused(text: object, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, str | None]:
    with pytest.raises(ChatError) as info:
        check_text(text, max_chars)
    return info.value.code, info.value.field


def test_text_is_kept_exactly_as_sent() -> None:
    for text in ("hi", " padded \n\tlines\r\n", "<b>bold</b> & <script>x</script>", "é😀" * 10):
        assert check_text(text) == text
    assert check_text("x" * MAX_TEXT_CHARS) == "x" * MAX_TEXT_CHARS


def test_bad_text_is_refused_with_its_code_and_field() -> None:
    assert refused("x" * (MAX_TEXT_CHARS + 1)) == ("too_long", "text")
    assert refused("abc", max_chars=2) == ("too_long", "text")
    assert refused("") == ("invalid", "text")
    assert refused(" \n\t ") == ("invalid", "text")
    assert refused(None) == ("invalid", "text")
    assert refused(["list"]) == ("invalid", "text")
    for control in ("\x00", "\x07", "\x1b[31m", "\x7f", "\x85"):
        assert refused(f"a{control}b") == ("invalid", "text"), repr(control)


def test_error_statuses() -> None:
    assert ChatError("not_member", "x").http_status == 403
    assert ChatError("too_long", "x").http_status == 422
    assert ChatError("rate_limited", "x").http_status == 429


def test_room_names() -> None:
    assert check_room_name("  Night shift  ") == "Night shift"
    for bad in ("", "   ", None, "a\nb", "x" * 129):
        with pytest.raises(ChatError) as info:
            check_room_name(bad)
        assert info.value.field == "name"


def test_direct_key_is_the_same_both_ways_and_needs_two_people() -> None:
    assert direct_key("bob", "alice") == direct_key("alice", "bob") == "alice bob"
    with pytest.raises(ChatError) as info:
        direct_key("alice", "alice")
    assert info.value.code == "invalid"


def test_unread_counts_from_the_read_mark() -> None:
    conversation = Conversation(
        7, "room", "Team", 10, AT, (Member("alice", 10, 10), Member("bob", 4, 6))
    )
    assert conversation.unread_for("alice") == 0
    assert conversation.unread_for("bob") == 6
    assert conversation.unread_for("mallory") == 0
    assert conversation.logins() == ("alice", "bob")
    assert conversation.member("mallory") is None


def test_message_event_nests_the_message_under_the_hub_envelope() -> None:
    message = Message(7, 3, "alice", "<i>hi</i>", AT)
    assert message.to_event() == {
        "type": "chat_message",
        "message": {
            "conversation": 7,
            "seq": 3,
            "from": "alice",
            "text": "<i>hi</i>",
            "at": "2026-11-28T12:00:00+00:00",
            "client_id": None,
        },
    }


def test_token_bucket_burst_then_steady_rate() -> None:
    limiter = RateLimiter(capacity=3, per_second=2.0)
    t = 100.0
    assert [limiter.allow("alice", t) for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("alice", t) == pytest.approx(0.5)
    assert limiter.allow("bob", t)  # per key
    assert not limiter.allow("alice", t + 0.4)
    assert limiter.allow("alice", t + 0.5)
    assert not limiter.allow("alice", t + 0.5)
    # a long pause refills to the capacity, not beyond
    assert [limiter.allow("alice", t + 60) for _ in range(4)] == [True, True, True, False]
    # a clock stepping back neither refills nor breaks the bucket
    assert not limiter.allow("alice", t)


def test_full_buckets_are_pruned() -> None:
    limiter = RateLimiter(capacity=2, per_second=1.0)
    limiter.allow("alice", 0.0)
    limiter.allow("bob", 0.0)
    limiter.allow("bob", 0.0)
    limiter.prune(1.0)  # alice is full again, bob is not
    assert len(limiter) == 1
    limiter.prune(2.0)
    assert len(limiter) == 0
    with pytest.raises(ValueError, match="capacity"):
        RateLimiter(capacity=0)
