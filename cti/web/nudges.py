"""Wake the tasks that wait on a login when something for that login happened.

Strategy: a customer's web chat socket has no hub stream (a customer is
nobody's user), so nothing is pushed to it: it reads its conversation from
the store. Reading on a fixed tick (4 per second per customer) cost a store
read each time, mostly for nothing. Instead the socket `watch`es its login
and sleeps until poked or a fallback timeout: the hub pokes the logins of
every chat delivery (local ones and those relayed from other nodes), and the
web chat service pokes a customer whose chat changed state. The fallback read
still covers what no poke announces (a chat changed by another node).

An `asyncio.Event` per watcher: a poke between two reads is remembered, so
nothing that happens while the socket is busy sending is missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["Nudges"]


class Nudges:
    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Event]] = {}

    @contextmanager
    def watch(self, login: str) -> Iterator[asyncio.Event]:
        """An event set whenever `login` is poked, for as long as the block runs."""
        event = asyncio.Event()
        self._watchers.setdefault(login, set()).add(event)
        try:
            yield event
        finally:
            events = self._watchers.get(login)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._watchers[login]

    def poke(self, logins: Iterable[str]) -> None:
        watchers = self._watchers
        if not watchers:
            return
        for login in logins:
            for event in watchers.get(login, ()):
                event.set()

    def __len__(self) -> int:
        """Logins watched (tests, stats)."""
        return len(self._watchers)
