"""Customer web chat tests' rig: the real app and store with agent states a test
sets (Alice and Bob in `support`), served by uvicorn like tests/web/chat_rig.py."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from chat_rig import ChatNode, Clock, serve_on
from web_fakes import SETTINGS, FakeState, FakeUsers
from websockets.asyncio.client import connect

from cti.chat import ChatService
from cti.store import Store
from cti.web.app import create_app
from cti.web.hub import Hub
from cti.web.schemas import AgentSchema
from cti.web.webchat import WebchatService

__all__ = ["AgentStates", "Node", "webchat_node"]


@dataclass
class AgentStates(FakeState):
    """Alice and Bob in `support`, both available unless a test says otherwise."""

    states: dict[str, str] = field(
        default_factory=lambda: {"PJSIP/1001": "available", "PJSIP/1002": "available"}
    )

    def agents(self) -> Sequence[AgentSchema]:
        names = {"PJSIP/1001": "Alice", "PJSIP/1002": "Bob"}
        return [
            AgentSchema(interface=i, name=names[i], state=s, queues=["support"])
            for i, s in self.states.items()
        ]


@dataclass
class Node:
    chat: ChatNode
    state: AgentStates
    webchat: WebchatService

    def customer(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.chat.http_base, headers=headers, timeout=5)

    def customer_ws(self, token: str, after: int = 0) -> Any:
        query = urlencode({"token": token, "after": after})
        return connect(f"{self.chat.ws_base}/ws/webchat?{query}")


@contextlib.asynccontextmanager
async def webchat_node(url: str, max_per_agent: int = 3) -> AsyncIterator[Node]:
    users = FakeUsers()

    async def user_exists(login: str) -> bool:
        return await users.get_user(login) is not None

    hub = Hub(stream_id=uuid.uuid4().hex[:8])
    state = AgentStates()
    settings = dataclasses.replace(SETTINGS, chat_max_per_agent=max_per_agent)
    async with Store(url) as store:
        chat = ChatService(store, hub, user_exists=user_exists, clock=Clock())
        app = create_app(
            users=users, state=state, hub=hub, settings=settings, chat=chat, webchat_store=store
        )
        async with serve_on(app, 0) as base:
            yield Node(ChatNode(store, hub, chat, base), state, app.state.webchat)
