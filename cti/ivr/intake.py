"""Where ARI items go: the data-dip app and the engine, in stream order.

Strategy: one handler for `AriEventStream.serve`, so the composition root
only wires it. A StasisStart starts the app's work for that channel before
the engine records the fact (the app answers the caller; the model only
mirrors it). On every (re)connect, channels left inside the app while the
link was down are looked up and served: Asterisk sends them no new
StasisStart.
"""

from __future__ import annotations

import logging
from typing import Protocol

from cti.ari.errors import AriError
from cti.ari.events import ApplicationReplaced, Channel, StasisStart
from cti.ari.stream import AriConnected, AriDisconnected, StreamItem
from cti.ivr.app import IvrApp
from cti.ivr.dip import StasisCall, stuck_in

__all__ = ["AriIntake", "stasis_call"]

log = logging.getLogger("cti.ari.intake")


class _Engine(Protocol):
    async def handle_ari(self, event: object) -> None: ...


class _Channels(Protocol):
    async def channels(self) -> list[Channel]: ...


def stasis_call(event: StasisStart) -> StasisCall:
    return StasisCall(event.channel.id, event.application, event.args, event.channel.caller.number)


class AriIntake:
    def __init__(self, engine: _Engine, ivr: IvrApp | None, rest: _Channels | None) -> None:
        self._engine = engine
        self._ivr = ivr
        self._rest = rest
        self.recovered = 0

    async def __call__(self, item: StreamItem) -> None:
        if isinstance(item, AriConnected):
            log.info("ARI connected: %s", item.url)
            await self._recover()
        elif isinstance(item, AriDisconnected):
            log.warning("ARI disconnected: %s", item.reason)
        elif isinstance(item, ApplicationReplaced):
            # Another client registered our app name: Asterisk now sends it
            # our calls. That is an operator's mistake (two CTIs on one
            # Asterisk) to be told loudly, not something to fight over.
            log.error("ARI application %s taken over by another client", item.application)
        else:
            if isinstance(item, StasisStart) and self._ivr is not None:
                self._ivr.start(stasis_call(item))
            await self._engine.handle_ari(item)

    async def _recover(self) -> None:
        if self._ivr is None or self._rest is None:
            return
        try:
            channels = await self._rest.channels()
        except AriError as exc:
            log.warning(
                "could not list channels to recover the %s app's calls: %s", self._ivr.app, exc
            )
            return
        for channel in channels:
            args = stuck_in(self._ivr.app, channel.dialplan.app_name, channel.dialplan.app_data)
            if args is not None:
                self.recovered += 1
                log.info(
                    "serving %s, left inside %s while the CTI was away", channel.id, self._ivr.app
                )
                self._ivr.start(StasisCall(channel.id, self._ivr.app, args, channel.caller.number))
