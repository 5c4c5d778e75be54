"""What the AMI client puts in its ordered output stream.

The stream is one bounded queue, in wire order: `Connected` after each login,
every unsolicited `Event`, a `Snapshot` for each resync list of that login at
the point of the order where the list completed (Asterisk writes a list in one
go, so events before it are older than the list and events after it newer),
the last one marked `complete`, and `Disconnected` when the link is lost. List
items and action responses never appear in it.
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
    """Resync list(s) of one login; `complete` on the login's last one."""

    results: tuple[ListResult, ...]
    at: float
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    at: float


StreamItem = Connected | Event | Snapshot | Disconnected
