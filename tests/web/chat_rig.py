"""Chat tests' rig: the real app over a real Store (SQLite file or PostgreSQL),
served by uvicorn on 127.0.0.1:0, with WebSocket and HTTP clients.

`chat_db` is parametrized like tests/store's `db_url` (a SQLite file; a fresh
PostgreSQL schema named by CTI_TEST_POSTGRES_URL, dropped afterwards; skipped
when unreachable except with CI=true). It is repeated here rather than
imported because conftest modules are not importable by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from web_fakes import SETTINGS, FakeState, FakeUsers
from websockets.asyncio.client import ClientConnection, connect

from cti.chat import ChatLimits, ChatService
from cti.chat.service import ChatDelivery
from cti.store import Store
from cti.web.app import create_app
from cti.web.auth import TokenAuth
from cti.web.hub import Hub
from cti.web.ports import User

POSTGRES_URL = os.environ.get(
    "CTI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AUTH = TokenAuth(FakeUsers(), SETTINGS)


def token(user: User) -> str:
    return AUTH.issue(user).token


def _no_postgres(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI but unreachable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unreachable ({reason})")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def chat_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('chat') / 'cti.sqlite3'}"
        return
    schema = f"cti_chat_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        try:
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # cannot connect: no PostgreSQL here
            _no_postgres(f"{type(exc).__name__}: {exc}".splitlines()[0])
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@dataclass
class Clock:
    now: float = 1_795_860_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ChatNode:
    """One running CTI web node: its store, hub, chat service and base URLs."""

    store: Store
    hub: Hub
    chat: ChatService
    ws_base: str

    @property
    def port(self) -> int:
        return int(self.ws_base.rsplit(":", 1)[1])

    @property
    def http_base(self) -> str:
        return "http" + self.ws_base.removeprefix("ws")

    def ws_url(self, user: User, **params: str | int) -> str:
        return f"{self.ws_base}/ws?{urlencode({'token': token(user), **params})}"

    def http(self, user: User) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token(user)}"}
        return httpx.AsyncClient(base_url=self.http_base, headers=headers, timeout=5)


@contextlib.asynccontextmanager
async def chat_node(
    url: str,
    *,
    limits: ChatLimits | None = None,
    clock: Callable[[], float] | None = None,
    delivery: Callable[[Hub], ChatDelivery] | None = None,
    port: int = 0,
    teams: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None,
) -> AsyncIterator[ChatNode]:
    """Start a node on the database at `url` (on `port`, 0: any); stop it
    (server and store) on exit."""
    users = FakeUsers()

    async def user_exists(login: str) -> bool:
        return await users.get_user(login) is not None

    known = teams if teams is not None else {}

    async def team_of(name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        return known.get(name)

    hub = Hub(stream_id=uuid.uuid4().hex[:8])
    async with Store(url) as store:
        chat = ChatService(
            store,
            delivery(hub) if delivery is not None else hub,
            user_exists=user_exists,
            teams=team_of,
            limits=limits,
            clock=clock or Clock(),
        )
        app = create_app(users=users, state=FakeState(), hub=hub, settings=SETTINGS, chat=chat)
        async with serve_on(app, port) as base:
            yield ChatNode(store, hub, chat, base)


@contextlib.asynccontextmanager
async def serve_on(app: FastAPI, port: int) -> AsyncIterator[str]:
    """web_fakes.serve on a chosen port, so a restarted node is found where the
    old one was; yields the ws:// base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:  # noqa: ASYNC110 (uvicorn only offers a flag)
                await asyncio.sleep(0.005)
        yield f"ws://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)
        sock.close()


async def recv(ws: ClientConnection, wait: float = 3.0) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), wait))
    assert isinstance(data, dict)
    return data


async def recv_type(ws: ClientConnection, kind: str, wait: float = 3.0) -> dict[str, Any]:
    """The next frame of type `kind`, skipping others (hello, receipts...)."""
    async with asyncio.timeout(wait):
        while True:
            frame = await recv(ws, wait)
            if frame.get("type") == kind:
                return frame


async def nothing_more(ws: ClientConnection, wait: float = 0.15) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), wait)


@contextlib.asynccontextmanager
async def open_ws(
    node: ChatNode, user: User, **params: str | int
) -> AsyncIterator[ClientConnection]:
    """A socket past its hello."""
    async with connect(node.ws_url(user, **params), max_size=None) as ws:
        hello = await recv(ws)
        assert hello["type"] == "hello"
        yield ws


async def send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))
