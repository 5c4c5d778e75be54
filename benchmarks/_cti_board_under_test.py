"""Process A of benchmarks/queue_metrics.py: the CTI under test, alone in its process.

Like benchmarks/_cti_under_test.py (whose agent seeding it reuses), plus
--supervisors supervisors (`sup0`, `sup1`, ...) who supervise every one of
--queues queues (`q00`, `q01`, ...), and the supervisor feed's interval
(--board-interval; 0 turns coalescing off, for the peer run). Prints one JSON
line `{"http_port": P, "pid": N}` once listening, then keeps the feed's
and the engine's counters and the garbage collector's pauses in
--stats-file (JSON); SIGTERM stops it.

Not meant to be run by hand: `queue_metrics.py` starts it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cti_under_test import PASSWORD, seed_agents  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from cti.app import CtiService  # noqa: E402
from cti.config import Settings  # noqa: E402
from cti.runner import run  # noqa: E402
from cti.store import Store  # noqa: E402
from cti.store.passwords import hash_password  # noqa: E402
from cti.store.tables import Agent  # noqa: E402


def queue_name(i: int) -> str:
    return f"q{i:02d}"


def supervisor_login(i: int) -> str:
    return f"sup{i}"


async def seed_supervisors(store: Store, count: int, queues: int) -> None:
    encoded = await asyncio.to_thread(hash_password, PASSWORD)
    rows = [
        {
            "login": supervisor_login(i),
            "display_name": f"Supervisor {i}",
            "password_hash": encoded,
            "role": "supervisor",
            "interface": None,
        }
        for i in range(count)
    ]
    if rows:
        async with store.engine.begin() as conn:
            await conn.execute(insert(Agent), rows)
    for i in range(count):
        await store.add_supervisor_queues(supervisor_login(i), map(queue_name, range(queues)))


class GcPauses:
    """The collector's pauses in this process, as (generation, ms, ended at
    `time.perf_counter()`): the parent keeps those inside its window (one
    monotonic clock for the machine's processes). A pause holds every board
    due meanwhile, so it shows in the latency's tail."""

    def __init__(self) -> None:
        self._started = 0.0
        # all of them: a run is a minute or two, a few hundred collections at most
        self.seen: list[tuple[int, float, float]] = []

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self.seen.append((info["generation"], (now - self._started) * 1000.0, now))


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    partial = path.with_suffix(".tmp")
    partial.write_text(text)
    partial.replace(path)


async def write_stats_until(
    runner: asyncio.Task[None], service: CtiService, path: Path, pauses: GcPauses
) -> None:
    """Every 0.1 s, the feed's and the engine's counters as JSON in `path`
    (uvicorn re-raises SIGTERM on exit, so nothing printed at the end is seen)."""
    while not runner.done():
        stats = service.engine.stats
        found = {
            "feed": dataclasses.asdict(service.feed.stats) if service.feed else {},
            "engine": {"events": stats.events, "connects": stats.connects},
            "gc_pauses": list(pauses.seen),
        }
        await asyncio.to_thread(_write_atomically, path, json.dumps(found))
        await asyncio.wait({runner}, timeout=0.1)
    await runner


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(
        ami_host="127.0.0.1",
        ami_port=args.ami_port,
        ari_url="",
        database_url=args.database_url,
        token_secret=args.token_secret,
        http_host="127.0.0.1",
        http_port=0,
        board_interval=args.board_interval,
    )
    async with Store(settings.database_url) as store:
        await seed_agents(store, args.agents)
        await seed_supervisors(store, args.supervisors, args.queues)
        service = await CtiService.create(settings, store)
        runner = asyncio.create_task(service.run(), name="cti-service")
        try:
            async with asyncio.timeout(30.0):
                await service.wait_http_started()
            print(json.dumps({"http_port": service.http_port, "pid": os.getpid()}), flush=True)
            pauses = GcPauses()
            gc.callbacks.append(pauses.on_gc)
            with contextlib.suppress(asyncio.CancelledError):
                await write_stats_until(runner, service, Path(args.stats_file), pauses)
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
    parser.add_argument("--supervisors", type=int, required=True)
    parser.add_argument("--queues", type=int, required=True)
    parser.add_argument("--board-interval", type=float, required=True)
    parser.add_argument("--stats-file", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    run(serve(args))  # on the loop `cti serve` uses ($CTI_LOOP, set by the parent)


if __name__ == "__main__":
    main()
