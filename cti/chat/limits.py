"""Per-sender rate limit: a token bucket, pure, with time handed in.

Strategy: each key (a sender's login) holds up to `capacity` tokens, refilled
at `per_second`; a message takes one. A burst of `capacity` messages passes,
then one per 1/per_second. `now` is a parameter, never read from a clock, so
tests step time exactly. Buckets that are full again are forgotten by
`prune`, so idle senders cost no memory.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, capacity: int = 20, per_second: float = 2.0) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("capacity must be >= 1 and per_second > 0")
        self.capacity = capacity
        self.per_second = per_second
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            return bucket
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(self.capacity), bucket.tokens + elapsed * self.per_second)
        bucket.at = max(bucket.at, now)
        return bucket

    def allow(self, key: str, now: float) -> bool:
        """Take one token for `key` if there is one."""
        bucket = self._refilled(key, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may send again (0 if it may now)."""
        bucket = self._refilled(key, now)
        return max(0.0, (1.0 - bucket.tokens) / self.per_second)

    def prune(self, now: float) -> None:
        """Forget the buckets that have refilled completely."""
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + max(0.0, now - b.at) * self.per_second >= self.capacity
        ]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
