"""Chat under load: N WebSocket clients in direct conversations, messages/s and latency.

Strategy: two or three processes, so the CTI under test has cores of its own.
  Node(s) (children, benchmarks/_chat_node.py): the real app's chat (ChatService
    over a Store, the Hub; with --bus-url a HubRelay on RabbitMQ).
  The measurer (this process): --clients WebSocket clients in pairs, each
    pair one direct conversation; the first of a pair sends, the second
    receives. With --bus-url there are two nodes on the same database: every
    sender is on node A, every receiver on node B, so each message crosses
    the bus. Without it, one node and the in-process hub.
Messages go out at --rate per second in total, round robin over the senders
(each under the per-sender limit: 20 at once, then 2/s). Both ends are
clocked here with `time.perf_counter()`: the send, the `chat_ack` (stored),
the receiver's `chat_message` (delivered). Messages sent during --warmup are
not measured. After the window the measurer waits up to --timeout seconds;
a measured message never delivered is "lost", a second delivery a
"duplicate". Then the store is asked (REST history) for every conversation's
messages: each acknowledged message must be there exactly once.

Run: `.venv/bin/python benchmarks/chat_load.py [--clients 2000] [--rate 1000]
[--seconds 20] [--warmup 5] [--database-url postgresql+psycopg://...]
[--bus-url amqp://guest:guest@127.0.0.1:5672/]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _cti_under_test import agent_interface, agent_login, agent_name  # noqa: E402
from _harness import percentile, start_child, stop_child  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from cti.config import Settings  # noqa: E402
from cti.web.auth import TokenAuth  # noqa: E402
from cti.web.ports import User  # noqa: E402

CHILD = Path(__file__).resolve().parent / "_chat_node.py"
PAD = "x" * 80  # a message of about 90 characters


@dataclass
class Node:
    process: asyncio.subprocess.Process
    http_port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}"


@dataclass
class Tracker:
    warm_until: float = 0.0
    sent: dict[int, float] = field(default_factory=dict)  # message number -> send time
    measured: set[int] = field(default_factory=set)
    acks: dict[int, float] = field(default_factory=dict)  # number -> ack latency (s)
    seqs: dict[int, int] = field(default_factory=dict)  # number -> seq acked
    delivered: Counter[int] = field(default_factory=Counter)
    latency: list[float] = field(default_factory=list)  # delivery latency of measured (s)
    errors: Counter[str] = field(default_factory=Counter)
    closed: int = 0


class _NoUsers:
    """`TokenAuth` only signs here: it never looks anyone up."""

    async def authenticate(self, login: str, password: str) -> User | None:
        return None

    async def get_user(self, login: str) -> User | None:
        return None


async def start_node(
    db_url: str, secret: str, agents: int, seed: bool, opts: argparse.Namespace, log: Path
) -> Node:
    args = ["--database-url", db_url, "--token-secret", secret]
    args += ["--agents", str(agents)] + (["--seed"] if seed else [])
    if opts.no_rate_limit:
        args.append("--no-rate-limit")
    if opts.bus_url:
        args += ["--bus-url", opts.bus_url]
    child = await start_child(CHILD, args, log)
    return Node(child.process, child.http_port)


def user(i: int) -> User:
    return User(agent_login(i), agent_name(i), "agent", agent_interface(i))


async def open_conversations(node: Node, tokens: list[str], pairs: int) -> list[int]:
    limit = asyncio.Semaphore(50)
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:

        async def one(k: int) -> int:
            async with limit:
                response = await http.post(
                    "/api/chat/direct",
                    json={"login": agent_login(2 * k + 1)},
                    headers={"Authorization": f"Bearer {tokens[2 * k]}"},
                )
            response.raise_for_status()
            return int(response.json()["id"])

        return list(await asyncio.gather(*(one(k) for k in range(pairs))))


async def read(ws: ClientConnection, me: str, tracker: Tracker) -> None:
    try:
        async for raw in ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "chat_message":
                message = frame["message"]
                if message["from"] == me:
                    continue  # the sender's own copy
                number = int(message["client_id"][1:])
                tracker.delivered[number] += 1
                if number in tracker.measured and tracker.delivered[number] == 1:
                    tracker.latency.append(now - tracker.sent[number])
            elif kind == "chat_ack":
                number = int(frame["id"][1:])
                tracker.acks[number] = now - tracker.sent[number]
                tracker.seqs[number] = frame["seq"]
            elif kind == "chat_error":
                tracker.errors[frame["code"]] += 1
    except ConnectionClosed:
        tracker.closed += 1


async def connect_all(
    urls: list[str], logins: list[str], tracker: Tracker
) -> tuple[list[ClientConnection], list[asyncio.Task[None]]]:
    limit = asyncio.Semaphore(100)

    async def one(url: str, me: str) -> ClientConnection:
        async with limit:
            ws = await connect(url, max_queue=None, compression=None, open_timeout=30)
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello", hello
            return ws

    sockets = list(await asyncio.gather(*(one(u, m) for u, m in zip(urls, logins, strict=True))))
    readers = [
        asyncio.create_task(read(ws, me, tracker)) for ws, me in zip(sockets, logins, strict=True)
    ]
    return sockets, readers


async def verify_store(node: Node, tokens: list[str], conversations: list[int]) -> Counter[str]:
    """Every conversation's history from the store: seqs 1..n, each number once."""
    found: Counter[str] = Counter()
    limit = asyncio.Semaphore(50)
    async with httpx.AsyncClient(base_url=node.http, timeout=60) as http:

        async def one(k: int, cid: int) -> None:
            after = 0
            while True:
                async with limit:
                    response = await http.get(
                        f"/api/chat/conversations/{cid}/messages",
                        params={"after": after, "limit": 500},
                        headers={"Authorization": f"Bearer {tokens[2 * k + 1]}"},
                    )
                body = response.json()
                for m in body["messages"]:
                    found["stored"] += 1
                    if m["seq"] != after + 1:
                        found["gaps"] += 1
                    after = m["seq"]
                if not body["more"]:
                    return

        await asyncio.gather(*(one(k, cid) for k, cid in enumerate(conversations)))
    return found


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    clients = opts.clients - opts.clients % 2
    pairs = clients // 2
    with tempfile.TemporaryDirectory(prefix="chat-load-") as tmp:
        db_url = opts.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'chat.sqlite3'}"
        log = Path(tmp) / "nodes.log"
        a = await start_node(db_url, secret, clients, True, opts, log)
        b = a
        try:
            if opts.bus_url:
                b = await start_node(db_url, secret, clients, False, opts, log)
            auth = TokenAuth(_NoUsers(), Settings(token_secret=secret, token_ttl_seconds=86400))
            tokens = [auth.issue(user(i)).token for i in range(clients)]
            conversations = await open_conversations(a, tokens, pairs)
            tracker = Tracker()
            urls = [f"{(a if i % 2 == 0 else b).ws}/ws?token={tokens[i]}" for i in range(clients)]
            logins = [agent_login(i) for i in range(clients)]
            started = time.perf_counter()
            sockets, readers = await connect_all(urls, logins, tracker)
            connect_seconds = time.perf_counter() - started
            print(f"{clients} clients connected in {connect_seconds:.1f} s", file=sys.stderr)

            interval = 1.0 / opts.rate
            begin = time.perf_counter()
            tracker.warm_until = begin + opts.warmup
            end = tracker.warm_until + opts.seconds
            number = 0
            while True:
                now = time.perf_counter()
                if now >= end:
                    break
                due = begin + number * interval
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                k = number % pairs
                tracker.sent[number] = time.perf_counter()
                if tracker.sent[number] >= tracker.warm_until:
                    tracker.measured.add(number)
                text = f"m{number} {PAD}"
                frame = {
                    "type": "chat_send",
                    "id": f"m{number}",
                    "conversation": conversations[k],
                    "text": text,
                    "client_id": f"m{number}",
                }
                await sockets[2 * k].send(json.dumps(frame))
                number += 1
            window_end = time.perf_counter()
            deadline = window_end + opts.timeout
            while time.perf_counter() < deadline and (  # noqa: ASYNC110 (counters)
                len(tracker.acks) + sum(tracker.errors.values()) < number
                or any(tracker.delivered[n] == 0 for n in tracker.measured)
            ):
                await asyncio.sleep(0.05)
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers, return_exceptions=True)
            store = await verify_store(b, tokens, conversations)
        finally:
            for node in {id(a): a, id(b): b}.values():
                await stop_child(node.process)
    measured = sorted(tracker.measured)
    lost = sum(1 for n in measured if tracker.delivered[n] == 0)
    duplicates = sum(max(0, c - 1) for c in tracker.delivered.values())
    acks = [tracker.acks[n] for n in measured if n in tracker.acks]
    delivered_in_window = len(tracker.latency)
    return {
        "clients": clients,
        "transport": "rabbitmq (2 nodes)" if opts.bus_url else "in-process (1 node)",
        "database": db_url.split("://")[0],
        "rate_asked": opts.rate,
        "sent": number,
        "acked": len(tracker.acks),
        "errors": dict(tracker.errors),
        "measured": len(measured),
        "messages_per_s": round(delivered_in_window / opts.seconds, 1),
        "lost": lost,
        "duplicates": duplicates,
        "delivery_ms": {
            p: round(percentile(sorted(tracker.latency), p) * 1000, 2) for p in (50, 95, 99, 100)
        },
        "ack_ms": {p: round(percentile(sorted(acks), p) * 1000, 2) for p in (50, 99)},
        "stored": store["stored"],
        "store_gaps": store["gaps"],
        "acked_not_stored": max(0, len(tracker.acks) - store["stored"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s in total")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--bus-url", default="")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="lift the per-sender limit (raw throughput)"
    )
    opts = parser.parse_args()
    result = asyncio.run(run(opts))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
