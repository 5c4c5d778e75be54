"""Process A of benchmarks/screen_pop_latency.py: the CTI under test, alone in its process.

Strategy: seed a fresh SQLite file with N agents (PJSIP/2000, PJSIP/2001, ...),
then run the real `CtiService` (AMI client, engine, uvicorn) against the fake
Asterisk of the parent process. Seeding hashes the shared password once and
bulk-inserts every row: the product's scrypt cost is untouched, the benchmark
just does not pay it 1,000 times. When the HTTP server listens, one JSON line
`{"http_port": P, "pid": N}` goes to stdout; logs go to stderr. SIGTERM stops
it (uvicorn's handler).

Not meant to be run by hand: `screen_pop_latency.py` starts it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from cti.app import CtiService  # noqa: E402
from cti.config import Settings  # noqa: E402
from cti.runner import run  # noqa: E402
from cti.store import Store  # noqa: E402
from cti.store.passwords import hash_password  # noqa: E402
from cti.store.tables import Agent  # noqa: E402

FIRST_EXTENSION = 2000
PASSWORD = "bench"


def agent_login(i: int) -> str:
    return f"agent{FIRST_EXTENSION + i}"


def agent_interface(i: int) -> str:
    return f"PJSIP/{FIRST_EXTENSION + i}"


def agent_name(i: int) -> str:
    return f"Agent {FIRST_EXTENSION + i}"


def agent_user(i: int) -> tuple[str, str, str, str]:
    """Agent i as a benchmark client (login, name, role, interface): `WsClients` users."""
    return (agent_login(i), agent_name(i), "agent", agent_interface(i))


async def seed_agents(store: Store, count: int) -> None:
    """`count` agents sharing one password hash, in one bulk insert."""
    encoded = await asyncio.to_thread(hash_password, PASSWORD)
    rows = [
        {
            "login": agent_login(i),
            "display_name": agent_name(i),
            "password_hash": encoded,
            "role": "agent",
            "interface": agent_interface(i),
        }
        for i in range(count)
    ]
    async with store.engine.begin() as conn:
        await conn.execute(insert(Agent), rows)


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(
        ami_host="127.0.0.1",
        ami_port=args.ami_port,
        database_url=args.database_url,
        token_secret=args.token_secret,
        http_host="127.0.0.1",
        http_port=0,
    )
    async with Store(settings.database_url) as store:
        await seed_agents(store, args.agents)
        service = await CtiService.create(settings, store)
        runner = asyncio.create_task(service.run(), name="cti-service")
        try:
            async with asyncio.timeout(30.0):
                await service.wait_http_started()
            print(json.dumps({"http_port": service.http_port, "pid": os.getpid()}), flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ami-port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--token-secret", required=True)
    parser.add_argument("--agents", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    run(serve(args))  # on the loop `cti serve` uses ($CTI_LOOP, set by the parent)


if __name__ == "__main__":
    main()
