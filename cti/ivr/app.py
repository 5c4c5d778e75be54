"""The `cti-ivr` Stasis application's asyncio shell: look up, set, continue.

Strategy: each call in the app gets a task of its own, so one slow look-up
never holds another caller. The one rule that matters is in `_serve`: the
channel is sent back to the dialplan in a `finally`, whatever happened
before it, and the look-up has `dip_timeout` seconds, not more. A caller is
never stuck in Stasis because the database is slow or down; the call goes
on with the customer variables unset (cti/ivr/dip.py says which).

When the ARI stream (re)connects, channels left inside the app while the CTI
was away are found with `GET /channels` and served like new ones: Asterisk
sends no second StasisStart for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cti.customers import CustomerKey, CustomerLookup
from cti.ids import ChannelId
from cti.ivr.dip import DipRequest, StasisCall, dip_request, dip_variables

__all__ = ["AriChannels", "DipStats", "IvrApp"]

log = logging.getLogger("cti.ivr")


class AriChannels(Protocol):
    """The ARI requests the app makes (cti.ari.rest.AriRest provides them)."""

    async def set_variable(self, channel_id: str, name: str, value: str) -> None: ...

    async def continue_in_dialplan(self, channel_id: str) -> None: ...


@dataclass(slots=True)
class DipStats:
    started: int = 0
    found: int = 0
    not_found: int = 0
    timeouts: int = 0
    lookup_errors: int = 0
    set_errors: int = 0
    continue_errors: int = 0
    passed_through: int = 0  # in the app, but not asking for a dip


class IvrApp:
    def __init__(
        self,
        rest: AriChannels,
        lookup: CustomerLookup | None,
        *,
        app: str = "cti-ivr",
        dip_timeout: float = 0.8,
    ) -> None:
        self.app = app
        self.stats = DipStats()
        self._rest = rest
        self._lookup = lookup
        self._timeout = dip_timeout
        self._serving: dict[ChannelId, asyncio.Task[None]] = {}

    def start(self, call: StasisCall) -> None:
        """A channel entered the app: serve it in a task of its own."""
        if call.app != self.app or call.channel in self._serving:
            return  # another app's channel, or one already being served
        task = asyncio.get_running_loop().create_task(
            self._serve(call), name=f"cti-ivr-{call.channel}"
        )
        self._serving[call.channel] = task
        task.add_done_callback(lambda _t: self._serving.pop(call.channel, None))

    def recover(self, stuck: Iterable[StasisCall]) -> None:
        """Serve channels found inside the app after a (re)connect."""
        for call in stuck:
            self.start(call)

    async def drain(self) -> None:
        """Wait for every call being served (tests, shutdown)."""
        while self._serving:
            await asyncio.gather(*self._serving.values(), return_exceptions=True)

    async def close(self) -> None:
        # A task cancelled before its first step never runs `_serve`, whose
        # `finally` sends the call back to the dialplan: let the ones started
        # just now take that step first.
        await asyncio.sleep(0)
        for task in list(self._serving.values()):
            task.cancel()
        await asyncio.gather(*self._serving.values(), return_exceptions=True)

    async def _serve(self, call: StasisCall) -> None:
        request = dip_request(call, self.app)
        try:
            if request is None:
                self.stats.passed_through += 1
                log.info("%s entered %s with args %r: no dip", call.channel, self.app, call.args)
                return
            self.stats.started += 1
            await self._dip(request)
        finally:
            await self._continue(call.channel)

    async def _dip(self, request: DipRequest) -> None:
        customer = None
        if self._lookup is not None:
            key = CustomerKey.of(request.caller_number, account=request.account)
            try:
                async with asyncio.timeout(self._timeout):
                    customer = await self._lookup(key)
            except TimeoutError:
                self.stats.timeouts += 1
                log.warning("data dip for %s timed out after %.1fs", request.channel, self._timeout)
                return
            except Exception:
                self.stats.lookup_errors += 1
                log.exception("data dip for %s failed", request.channel)
                return
        variables = dip_variables(customer)
        if not variables:
            self.stats.not_found += 1
            return
        self.stats.found += 1
        for var in variables:
            try:
                await self._rest.set_variable(request.channel, var.name, var.value)
            except Exception:
                self.stats.set_errors += 1
                log.exception("could not set %s on %s", var.name, request.channel)
                return

    async def _continue(self, channel: ChannelId) -> None:
        try:
            await self._rest.continue_in_dialplan(channel)
        except Exception:
            # Most often the caller hung up meanwhile (404); nothing is stuck then.
            self.stats.continue_errors += 1
            log.warning("could not continue %s in the dialplan", channel, exc_info=True)
