"""Queues: members (by interface) and waiting callers (with their join time).

Strategy: the waiting list is keyed by the caller's channel and kept in join
order, so the oldest caller is the first entry. `QueueUpdated` is emitted only
when what it shows (waiting count, oldest join time, members) changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.ids import CallId, ChannelId, Interface, QueueName
from cti.model.outputs import QueueUpdated

__all__ = ["QueueRecord", "refresh_queue"]


@dataclass(slots=True)
class QueueRecord:
    name: QueueName
    members: dict[Interface, None] = field(default_factory=dict)  # ordered set
    waiting: dict[ChannelId, tuple[CallId, float]] = field(default_factory=dict)
    strategy: str = ""
    last: tuple[int, float | None, tuple[Interface, ...]] | None = None

    def longest_wait_since(self) -> float | None:
        for _call, joined in self.waiting.values():
            return joined
        return None


def refresh_queue(queue: QueueRecord, at: float) -> QueueUpdated | None:
    members = tuple(queue.members)
    current = (len(queue.waiting), queue.longest_wait_since(), members)
    if current == queue.last:
        return None
    queue.last = current
    return QueueUpdated(
        queue=queue.name,
        waiting=current[0],
        longest_wait_since=current[1],
        members=members,
        at=at,
    )
