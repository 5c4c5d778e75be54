"""The supervisor feed: queue boards and agent states, coalesced (cti/feed/board_feed.py)."""

from cti.feed.board_feed import (
    DEFAULT_INTERVAL,
    Board,
    BoardFeed,
    BoardSource,
    FeedPublisher,
    FeedStats,
)
from cti.feed.coalescer import Coalescer

__all__ = [
    "DEFAULT_INTERVAL",
    "Board",
    "BoardFeed",
    "BoardSource",
    "Coalescer",
    "FeedPublisher",
    "FeedStats",
]
