"""Chat survives SIGKILL: a node killed right after acknowledging messages loses none.

The node is benchmarks/_chat_node.py (the real app's chat over a SQLite file)
in a child process. Alice's messages are acknowledged, the child is killed
with SIGKILL (no shutdown of any kind) before Bob ever connected, a new node
starts on the same file, and Bob's resume returns exactly the acknowledged
messages; numbering then goes on from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from cti.config import Settings
from cti.web.auth import TokenAuth
from cti.web.ports import User

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "benchmarks" / "_chat_node.py"
WAIT = 20.0
ALICE = User("agent2000", "Agent 2000", "agent", "PJSIP/2000")  # as _chat_node --seed makes
BOB = User("agent2001", "Agent 2001", "agent", "PJSIP/2001")


class _Nobody:
    async def authenticate(self, login: str, password: str) -> User | None:
        return None

    async def get_user(self, login: str) -> User | None:
        return None


@contextlib.asynccontextmanager
async def node(url: str, secret: str, seed: bool) -> AsyncIterator[tuple[int, Any]]:
    argv = [str(NODE), "--database-url", url, "--token-secret", secret, "--agents", "2"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        *(["--seed"] if seed else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(WAIT):
            ready = json.loads(await process.stdout.readline())
        yield int(ready["http_port"]), process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), WAIT)


async def frame_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return dict(frame)


async def test_messages_acked_before_a_sigkill_are_all_there_after_restart(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}"
    secret = secrets.token_hex(32)
    auth = TokenAuth(_Nobody(), Settings(token_secret=secret))
    alice, bob = auth.issue(ALICE).token, auth.issue(BOB).token
    async with node(url, secret, seed=True) as (port, process):
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {alice}"}
        ) as http:
            opened = await http.post("/api/chat/direct", json={"login": BOB.login})
            assert opened.status_code == 200, opened.text
            cid = opened.json()["id"]
        acked = []
        async with connect(f"ws://127.0.0.1:{port}/ws?token={alice}") as ws:
            for n in range(5):
                await ws.send(
                    json.dumps(
                        {"type": "chat_send", "id": f"c{n}", "conversation": cid, "text": f"m{n}"}
                    )
                )
            for _ in range(5):
                acked.append((await frame_of(ws, "chat_ack"))["seq"])
            process.kill()  # SIGKILL: no shutdown, no flush, nothing
            await asyncio.wait_for(process.wait(), WAIT)
        assert process.returncode == -signal.SIGKILL
    assert acked == [1, 2, 3, 4, 5]
    async with node(url, secret, seed=False) as (port, _):
        async with connect(f"ws://127.0.0.1:{port}/ws?token={bob}") as ws:
            await ws.send(
                json.dumps({"type": "chat_resume", "id": "r", "conversation": cid, "after_seq": 0})
            )
            page = await frame_of(ws, "chat_history")
            assert [(m["seq"], m["text"]) for m in page["messages"]] == [
                (n + 1, f"m{n}") for n in range(5)
            ]
            assert page["more"] is False
        async with connect(f"ws://127.0.0.1:{port}/ws?token={alice}") as ws:
            await ws.send(
                json.dumps({"type": "chat_send", "id": "c9", "conversation": cid, "text": "m9"})
            )
            assert (await frame_of(ws, "chat_ack"))["seq"] == 6
