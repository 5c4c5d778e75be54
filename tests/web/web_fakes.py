"""In-memory fakes of the web layer's ports, and a real uvicorn on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from cti.config import Settings
from cti.web.app import create_app
from cti.web.hub import Hub
from cti.web.ports import User
from cti.web.schemas import AgentSchema, CallSchema, IvrStepSchema, QueueSchema

ALICE = User("alice", "Alice", "agent", "PJSIP/1001")
BOB = User("bob", "Bob", "agent", "PJSIP/1002")
SUE = User("sue", "Sue", "supervisor", None, ("sales", "support"))  # her queues
ADA = User("ada", "Ada", "admin", "PJSIP/1009")
PASSWORD = "s3cret-pw"
SETTINGS = Settings(token_secret="test-secret-" + "x" * 40, token_ttl_seconds=3600)


@dataclass
class FakeUsers:
    users: dict[str, User] = field(
        default_factory=lambda: {u.login: u for u in (ALICE, BOB, SUE, ADA)}
    )

    async def authenticate(self, login: str, password: str) -> User | None:
        return self.users.get(login) if password == PASSWORD else None

    async def get_user(self, login: str) -> User | None:
        return self.users.get(login)


def call(call_id: str, agent: str | None, caller: str = "15551230001") -> CallSchema:
    return CallSchema(
        call_id=call_id,
        caller_number=caller,
        caller_name="José <script>",
        dialed_number="5000",
        queue="support",
        state="ringing" if agent else "queued",
        agent=agent,
        parties=[agent] if agent else [],
        started_at=1_700_000_000.0,
        ivr_path=[IvrStepSchema(step="menu", values={"choice": "1"})],
        variables={"CTI_ACCOUNT": "23456"},
        account="23456",
    )


@dataclass
class FakeState:
    call_list: list[CallSchema] = field(
        default_factory=lambda: [
            call("c1", "PJSIP/1001"),
            call("c2", "PJSIP/1002"),
            call("c3", None),
        ]
    )

    def calls(self) -> Sequence[CallSchema]:
        return self.call_list

    def queues(self) -> Sequence[QueueSchema]:
        return [
            QueueSchema(
                name="support",
                waiting=1,
                longest_wait_seconds=12.5,
                members=["PJSIP/1001", "PJSIP/1002"],
            )
        ]

    def agents(self) -> Sequence[AgentSchema]:
        return [
            AgentSchema(interface="PJSIP/1001", name="Alice", state="ringing", queues=["support"]),
            AgentSchema(interface="PJSIP/1002", name="Bob", state="ringing", queues=["support"]),
        ]


def make_app(hub: Hub | None = None) -> FastAPI:
    return create_app(users=FakeUsers(), state=FakeState(), hub=hub or Hub(), settings=SETTINGS)


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run `app` on a real uvicorn bound to 127.0.0.1:0; yields the ws:// base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:  # noqa: ASYNC110 (uvicorn only offers a flag)
                await asyncio.sleep(0.005)
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)
        sock.close()
