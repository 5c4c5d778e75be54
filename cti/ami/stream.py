"""What the AMI client puts in its ordered output stream.

The stream is one bounded queue, in wire order: `Connected` after each login,
every unsolicited `Event`, one `Snapshot` once every resync list of that login
has completed (at that point of the order), and `Disconnected` when the link
is lost. List items and action responses never appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.ami.lists import ListResult
from cti.ami.protocol import Event

__all__ = ["Connected", "Disconnected", "Snapshot", "StreamItem"]


@dataclass(frozen=True, slots=True)
class Connected:
    """Logged in; `at` is wall-clock time (time.time())."""

    at: float
    version: str = ""  # the AMI version the banner announced


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The resync lists of one login, in the order of `resync_actions`."""

    results: tuple[ListResult, ...]
    at: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    at: float


StreamItem = Connected | Event | Snapshot | Disconnected
