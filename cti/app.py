"""Composition root: builds the CTI from its parts and runs it.

Strategy: `CtiService` owns one instance of each part (store, model, hub,
engine, AMI client, HTTP server) and runs every long-lived task side by
side: the first to end or crash stops the whole service instead of leaving
a half-alive process, and the shutdown runs to its end (call records
stored) even if it is cancelled meanwhile. `run_service` is `cti serve` (a real
Asterisk); `run_demo` adds the fake Asterisk with generated calls and the
demo accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from fastapi import FastAPI

from cti.agentstate import AgentControl, AgentTarget
from cti.ami.client import AmiClient
from cti.ari.rest import AriRest
from cti.ari.stream import AriEventStream
from cti.bus import EventBus, bus_from_settings
from cti.chat import ChatService
from cti.config import Settings
from cti.control import CallControl
from cti.customers import CustomerKey, CustomerLookup, LookupBatcher
from cti.engine import Engine
from cti.feed import BoardFeed
from cti.history import HistoryService
from cti.history.live import live_call_of, member_queues_of
from cti.ivr.app import IvrApp
from cti.ivr.intake import AriIntake
from cti.metrics import QueueMetrics
from cti.model.model import Model
from cti.store import Store, seed_demo
from cti.store.seed import DEMO_CUSTOMERS
from cti.web.adapters import AccountDirectory, ControlAdapter, ModelStateView
from cti.web.app import create_app
from cti.web.chat_load import chat_load_hook
from cti.web.chat_presence import with_presence
from cti.web.hub import Hub
from cti.web.hub_relay import HubRelay
from cti.web.routes_agents import AgentControlAdapter

__all__ = ["CtiService", "customer_lookup", "run_demo", "run_service"]

log = logging.getLogger("cti.app")

_HTTP_START_TIMEOUT = 10.0  # seconds for uvicorn to bind
_FLUSH_TIMEOUT = 10.0  # seconds to write the queued call records at shutdown
_ARI_DRAIN_TIMEOUT = 5.0  # seconds to serve the ARI events read before shutdown


def customer_lookup(store: Store) -> CustomerLookup:
    """The store as the engine's CustomerLookup (one CustomerKey in, a JSON dict out);
    the look-ups of several calls share a query (cti.customers.LookupBatcher)."""

    async def lookup_many(keys: Sequence[CustomerKey]) -> list[dict[str, Any] | None]:
        found = await store.lookup_customers([(key.account, key.phone) for key in keys])
        return [record.to_json() if record is not None else None for record in found]

    batched = LookupBatcher(lookup_many)

    async def lookup(key: CustomerKey) -> dict[str, Any] | None:
        if key.customer_id is not None:  # a data dip's answer: rare, and by primary key
            return await store.lookup_customer_json(
                key.account, key.phone, customer_id=key.customer_id
            )
        return await batched(key)

    return lookup


async def _step(what: str, step: Awaitable[None]) -> None:
    """Await one shutdown step; a failure is logged, not raised (the next steps run)."""
    try:
        await step
    except Exception:
        log.exception("shutdown: closing the %s failed", what)


@dataclass(slots=True)
class AriPart:
    """The ARI side: the event stream, its REST client and the data-dip app.

    Optional (CTI_ARI_URL empty turns it off): without it the CTI still
    watches calls over AMI, and `Stasis(cti-ivr,...)` fails over to the
    dialplan because the app is not registered.
    """

    rest: AriRest
    stream: AriEventStream
    ivr: IvrApp
    intake: AriIntake
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def create(cls, settings: Settings, engine: Engine, store: Store) -> AriPart:
        rest = AriRest(
            settings.ari_url,
            settings.ari_username,
            settings.ari_password,
            timeout=settings.action_timeout,
        )
        stream = AriEventStream(
            settings.ari_url, settings.ari_username, settings.ari_password, [settings.ari_app]
        )
        ivr = IvrApp(
            rest, customer_lookup(store), app=settings.ari_app, dip_timeout=settings.dip_timeout
        )
        return cls(rest, stream, ivr, AriIntake(engine, ivr, rest))

    def tasks(self) -> list[asyncio.Task[None]]:
        self._tasks = [
            asyncio.create_task(self.stream.run(), name="cti-ari"),
            asyncio.create_task(self.stream.serve(self.intake), name="cti-ari-intake"),
        ]
        return list(self._tasks)

    async def close(self) -> None:
        await self.stream.close()  # the reader stops; what it read stays queued
        if self._tasks:
            # Serve what was read first: a StasisStart in there is a caller
            # handed to us, who must go back to the dialplan now, not wait in
            # silence for the next start to find them (GET /channels).
            try:
                async with asyncio.timeout(_ARI_DRAIN_TIMEOUT):
                    await self.stream.queue.join()
            except TimeoutError:
                log.error("ARI events still unserved at shutdown: %d", self.stream.queue.qsize())
        # Then stop the reader and the intake: nothing may start a REST request
        # once the client below is closed (one opening a connection then left
        # it open, unowned).
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ivr.close()  # sends the calls it was serving back to the dialplan
        await self.rest.aclose()


@dataclass(slots=True)
class CtiService:
    """The running CTI: call `start()`, then `run()` until cancelled."""

    settings: Settings
    store: Store
    hub: Hub
    model: Model
    engine: Engine
    client: AmiClient
    app: FastAPI
    server: uvicorn.Server
    ari: AriPart | None = None
    bus: EventBus | None = None
    relay: HubRelay | None = None  # several nodes (CTI_BUS_URL): hub events shared
    feed: BoardFeed | None = None  # queue boards and agent states to supervisors (cti/feed)

    @classmethod
    async def create(cls, settings: Settings, store: Store) -> CtiService:
        agents = await store.list_agents()
        # The model pops direct calls only to known agent devices, and a
        # direct call's DialBegin can come before any event naming the agent.
        model = Model(
            devices=[a.interface for a in agents if a.interface], wrapup=settings.wrapup_seconds
        )
        # since when each agent is in their state, across this restart
        model.restore_agent_states(
            (r.interface, r.state, r.reason, r.started_at.timestamp())
            for r in await store.open_agent_states()
        )
        # queue metrics continue from the store's buckets (today, last hour)
        metrics = QueueMetrics(settings.queue_metrics)
        now = time.time()
        metrics.load(await store.load_queue_intervals(metrics.load_since(now)), now)
        hub = Hub()
        # The event bus (docs/bus.md). With several nodes the hub's events also go
        # to, and come from, the other nodes' hubs through the relay.
        bus = bus_from_settings(settings)
        await bus.start()  # BusUnavailableError: the configured broker is down
        try:
            return await cls._assemble(settings, store, model, metrics, hub, bus)
        except BaseException:  # the broker connection must not outlive a failed start
            await bus.aclose()
            raise

    @classmethod
    async def _assemble(
        cls,
        settings: Settings,
        store: Store,
        model: Model,
        metrics: QueueMetrics,
        hub: Hub,
        bus: EventBus,
    ) -> CtiService:
        relay = HubRelay(hub, bus) if settings.bus_url else None
        if relay is not None:
            await relay.start()
        publisher = relay or hub
        engine = Engine(
            model=model,
            publisher=publisher,
            lookup_customer=customer_lookup(store),
            save_records=store.save_call_records,
            save_states=store.save_agent_states,
            metrics=metrics,
            save_metrics=store.save_queue_intervals,
        )
        client = AmiClient(
            settings.ami_host, settings.ami_port, settings.ami_username, settings.ami_secret
        )
        control = CallControl(client, model.call, action_timeout=settings.action_timeout)
        users = AccountDirectory(store)

        async def find_agent(login: str) -> AgentTarget | None:
            user = await users.get_user(login)
            return AgentTarget(user.login, user.display_name, user.interface) if user else None

        async def wrap_up_ended(interface: str) -> None:
            await engine.apply_now(lambda m, at: m.end_wrap_up(interface, at, unpause=False))

        agent_control = AgentControl(
            client,
            model,
            find_agent,
            action_timeout=settings.action_timeout,
            pause_reasons=settings.pause_reasons,
            wrap_up_ended=wrap_up_ended,
        )
        engine.effects = agent_control.pause_effect  # wrap-up (un)pauses
        # queue news (boards, waiting callers) and agent states to supervisors,
        # at most 4/s per queue and per agent (cti/feed)
        feed = BoardFeed(metrics, publisher, interval=settings.board_interval)
        engine.on_metrics_changed = feed.queues_changed
        engine.on_agent_changed = feed.agent_changed
        engine.on_queue_updated = feed.queue_state_changed

        async def user_exists(login: str) -> bool:
            return await users.get_user(login) is not None

        async def team_of(name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
            for team in await store.list_teams():  # a handful of teams
                if team.name == name:
                    return team.members, team.supervisors
            return None

        # chat is delivered like the engine's events: the hub (+ the relay)
        chat = ChatService(store, publisher, user_exists=user_exists, teams=team_of)
        app = create_app(
            users=users,
            state=ModelStateView(model),
            hub=hub,
            settings=settings,
            control=ControlAdapter(control),
            agent_control=AgentControlAdapter(agent_control, settings.wrapup_seconds),
            chat=chat,
            webchat_store=store,
            metrics=metrics,
            history=HistoryService(
                store,
                settings.dispositions,
                live_call=live_call_of(model),
                member_queues=member_queues_of(model),
            ),
        )
        # agent states also move chat presence, pushed to chat partners (docs/chat.md)
        engine.on_agent_changed = with_presence(feed.agent_changed, app.state.presence)
        # customer web chats an agent holds count toward occupancy (docs/metrics.md)
        if app.state.webchat is not None:
            app.state.webchat.on_change = chat_load_hook(metrics, feed.queues_changed)
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            lifespan="on",
            ws_ping_interval=20.0,
            # Pops are small and sent to one agent each: compressing every
            # frame cost more CPU than it saved bytes (screen_pop_latency.py).
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        ari = AriPart.create(settings, engine, store) if settings.ari_url else None
        service = cls(
            settings, store, hub, model, engine, client, app, server, ari, bus=bus, relay=relay
        )
        service.feed = feed
        return service

    @property
    def http_port(self) -> int:
        """The bound port (useful with port 0), once the server has started."""
        for srv in self.server.servers:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return self.settings.http_port

    async def run(self) -> None:
        """Run until any part stops (uvicorn returns on SIGINT/SIGTERM) or fails.

        The first part to finish stops the others; a part's exception is
        re-raised. (A TaskGroup would not do: it ignores a child that ends
        normally and keeps the others running.)
        """
        # Everything built so far lives as long as the process: move it out of
        # the collector's sight so full collections (pauses of 30-230 ms
        # measured under load) only walk what calls and sockets allocate.
        gc.collect()
        gc.freeze()
        # Collect the young generations 14x less often (700 -> 10,000 allocations)
        # and the full heap at most every 100th middle one: a call's objects
        # live for seconds, so with the defaults they survived into the old
        # generation and set off a full collection about every second, each a
        # pause of 80-260 ms with 1,000 sockets open (screen_pop_latency.py:
        # 55 full collections in 45 s before, 1 after). Cycles still get
        # collected; short-lived ones die in the young generations as before.
        # The middle generation every 5th young one, not every 20th: it holds
        # what survived the young collections since its last, and one pass
        # walks all of it. After 500 sockets connected, that was 140,000
        # objects (their coroutines, buffers, events) and a 50-75 ms pause,
        # holding every queue board due meanwhile (queue_metrics.py); at 5,
        # 9-23 ms. Same work in all, in shorter pauses.
        gc.set_threshold(10_000, 5, 100)
        parts = [
            asyncio.create_task(self.client.run(), name="cti-ami"),
            asyncio.create_task(self.engine.run(self.client.stream), name="cti-engine"),
            asyncio.create_task(self.server.serve(), name="cti-http"),
        ]
        if self.ari is not None:
            parts += self.ari.tasks()
        if self.relay is not None:
            parts.append(asyncio.create_task(self.relay.run(), name="cti-hub-relay"))
        try:
            done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._shut_down_whatever_happens(parts)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _shut_down_whatever_happens(self, parts: list[asyncio.Task[None]]) -> None:
        """Run the shutdown to its end even if we are cancelled meanwhile, once
        or more (then re-raise): cut short, it lost the call records the engine
        held and left the ARI client's connections open. Every step is bounded."""
        shutdown = asyncio.create_task(self._shutdown(parts), name="cti-shutdown")
        cancelled = False
        while not shutdown.done():
            try:
                await asyncio.shield(shutdown)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def _shutdown(self, parts: list[asyncio.Task[None]]) -> None:
        """Each step runs even if one before it failed (logged): a failing
        close must not cost the call records or leave the parts running."""
        self.server.should_exit = True
        self.hub.shutdown()
        presence = getattr(self.app.state, "presence", None)
        if presence is not None:
            await _step("chat presence", presence.aclose())
        if self.feed is not None:
            self.feed.close()
        await _step("AMI client", self.client.close())
        if self.ari is not None:
            await _step("ARI", self.ari.close())
        # no more input: let the engine store the call records it holds
        await _step("call records", self._flush_records())
        for task in parts:
            if task.get_name() != "cti-http":
                task.cancel()
        # let uvicorn finish its own shutdown (lifespan, open sockets)
        await asyncio.wait(parts, timeout=_HTTP_START_TIMEOUT)
        for task in parts:
            task.cancel()
        if self.relay is not None:
            await _step("hub relay", self.relay.aclose())
        if self.bus is not None:
            await _step("event bus", self.bus.aclose())

    async def _flush_records(self) -> None:
        try:
            async with asyncio.timeout(_FLUSH_TIMEOUT):
                await self.engine.flush_records()
        except TimeoutError:
            log.error("call records still unwritten at shutdown")

    async def wait_http_started(self) -> None:
        async with asyncio.timeout(_HTTP_START_TIMEOUT):
            # uvicorn exposes only a `started` flag, no event to await
            while not self.server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    store = Store(url)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def run_service(settings: Settings) -> None:
    async with open_store(settings.database_url) as store:
        service = await CtiService.create(settings, store)
        log.info("CTI listening on http://%s:%d/", settings.http_host, settings.http_port)
        with contextlib.suppress(asyncio.CancelledError):
            await service.run()


async def run_demo(
    *,
    http_host: str = "127.0.0.1",
    http_port: int = 8000,
    calls_per_second: float = 0.2,
    database_url: str = "sqlite+aiosqlite:///cti-demo.sqlite3",
) -> None:
    """Fake Asterisk with generated calls, the CTI on SQLite, the agent page."""
    from cti.sim import FakeAsterisk
    from cti.sim.calls import demo_scenario

    async with open_store(database_url) as store, FakeAsterisk() as fake:
        await seed_demo(store)
        settings = Settings(
            ami_host="127.0.0.1",
            ami_port=fake.port,
            ari_url=f"http://127.0.0.1:{fake.ari_port}",
            database_url=database_url,
            http_host=http_host,
            http_port=http_port,
            # a short after-call work on support shows wrap-up (CTI_WRAPUP overrides)
            wrapup_seconds=Settings().wrapup_seconds or {"support": 8.0},
        )
        service = await CtiService.create(settings, store)
        # Callers are the demo customers (some typing an unknown account), so
        # the pops show customer records found by account or by number.
        callers = tuple(
            (c.phones[0], c.account if c.account and i % 4 else f"9{i:04d}")
            for i, c in enumerate(DEMO_CUSTOMERS)
        )
        runner = asyncio.create_task(service.run())
        try:
            await service.wait_http_started()
            await service.client.wait_connected(timeout=10.0)
            scenario = demo_scenario(agents=2, rate=calls_per_second, callers=callers)
            # Some calls take the data-dip IVR (the cti-ivr app looks them up).
            fake.start_traffic(replace(scenario, p_stasis=0.25))
            print(
                f"\ncti demo: open http://{http_host}:{service.http_port}/ and log in as\n"
                "  alice or bob (agents, phones PJSIP/1001 and PJSIP/1002) or carol\n"
                "  (supervisor), password: demo. Calls arrive about every "
                f"{1 / calls_per_second:.0f} s. Ctrl-C stops.\n",
                flush=True,
            )
            await runner
        except asyncio.CancelledError:
            pass
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
            fake.stop_traffic()
