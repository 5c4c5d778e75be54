"""A CTI web node for benchmarks/chat_load.py: the chat of the real app, alone in its process.

Strategy: the real `create_app` with the real `ChatService` over a `Store`
(SQLite file or PostgreSQL) and a `Hub`; with --bus-url the hub's publishes
also go through a `HubRelay` on that bus (RabbitMQ), so several nodes serve
the clients of one conversation. No AMI: chat needs none. With --seed, N
agents (agent2000, ...) are bulk-inserted first, sharing one password hash.
When the HTTP server listens, one JSON line `{"http_port": P, "pid": N}` goes
to stdout; logs go to stderr. SIGTERM stops it (uvicorn's handler).

Not meant to be run by hand: `chat_load.py` starts it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn  # noqa: E402
from _cti_under_test import seed_agents  # noqa: E402

from cti.bus import bus_from_url  # noqa: E402
from cti.chat import ChatLimits, ChatService  # noqa: E402
from cti.config import Settings  # noqa: E402
from cti.runner import run  # noqa: E402
from cti.store import Store  # noqa: E402
from cti.web.adapters import AccountDirectory  # noqa: E402
from cti.web.app import create_app  # noqa: E402
from cti.web.hub import Hub  # noqa: E402
from cti.web.hub_relay import HubRelay  # noqa: E402
from cti.web.schemas import AgentSchema, CallSchema, QueueSchema  # noqa: E402


class _NoCalls:
    def calls(self) -> Sequence[CallSchema]:
        return []

    def queues(self) -> Sequence[QueueSchema]:
        return []

    def agents(self) -> Sequence[AgentSchema]:
        return []


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(database_url=args.database_url, token_secret=args.token_secret)
    async with Store(settings.database_url) as store:
        if args.seed:
            await seed_agents(store, args.agents)
        hub = Hub()
        bus = bus_from_url(args.bus_url) if args.bus_url else None
        relay: HubRelay | None = None
        if bus is not None:
            await bus.start()
            relay = HubRelay(hub, bus)
            await relay.start()
        users = AccountDirectory(store)

        async def user_exists(login: str) -> bool:
            return await users.get_user(login) is not None

        # The load sends one message per client per second or so: the default
        # burst and rate hold; --no-rate-limit lifts them for raw throughput.
        limits = ChatLimits(burst=1000, per_second=1000.0) if args.no_rate_limit else None
        chat = ChatService(store, relay or hub, user_exists=user_exists, limits=limits)
        app = create_app(users=users, state=_NoCalls(), hub=hub, settings=settings, chat=chat)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            ws_ping_interval=None,
            ws_per_message_deflate=False,
            backlog=4096,
        )
        server = uvicorn.Server(config)
        tasks = [asyncio.create_task(server.serve(), name="http")]
        if relay is not None:
            tasks.append(asyncio.create_task(relay.run(), name="relay"))
        try:
            async with asyncio.timeout(30.0):
                while not server.started:  # noqa: ASYNC110 (uvicorn only offers a flag)
                    await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            print(json.dumps({"http_port": port, "pid": os.getpid()}), flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await tasks[0]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if relay is not None:
                await relay.aclose()
            if bus is not None:
                await bus.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--token-secret", required=True)
    parser.add_argument("--agents", type=int, default=0)
    parser.add_argument("--seed", action="store_true")
    parser.add_argument("--bus-url", default="")
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    run(serve(args))  # on the loop `cti serve` uses ($CTI_LOOP, set by the parent)


if __name__ == "__main__":
    main()
