"""ARI events -> domain events: only the facts ARI owns (docs/ownership.md).

Strategy: ARI repeats most of what AMI says (channels, variables, bridges,
dialling) on a connection with no ordering against AMI's. Applying both
copies would make the model depend on which stream won the race, so this
mapping keeps only what AMI cannot tell: a channel entering and leaving a
Stasis application. Everything else maps to None and is dropped, cheaply:
one dict look-up on the event's class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.ari.events import StasisEnd, StasisStart
from cti.ids import ChannelId
from cti.model.events import DomainEvent, StasisEntered, StasisLeft

__all__ = ["from_ari"]


def _stasis_start(event: StasisStart) -> StasisEntered:
    return StasisEntered(ChannelId(event.channel.id), event.application, tuple(event.args))


def _stasis_end(event: StasisEnd) -> StasisLeft:
    return StasisLeft(ChannelId(event.channel.id), event.application)


_TABLE: dict[type, Callable[[Any], DomainEvent]] = {
    StasisStart: _stasis_start,
    StasisEnd: _stasis_end,
}


def from_ari(event: object) -> DomainEvent | None:
    """The domain event for an ARI event, or None when AMI owns its facts."""
    convert = _TABLE.get(type(event))
    return convert(event) if convert is not None else None
