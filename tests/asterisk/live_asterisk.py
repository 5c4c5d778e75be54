"""The real CTI against a live Asterisk: where it is, how to start and stop the stack.

Strategy: `CTI_TEST_ASTERISK` names the host of an Asterisk running
asterisk-conf/ plus the test contexts (docker/test/extensions-test.conf,
mounted by docker/compose.test.yml). The CTI under test is the real one:
`CtiService` on a temporary SQLite store, its HTTP server on 127.0.0.1:0,
connected to that Asterisk with the shipped credentials. The test agents'
phones are Local channels (`Local/<ext>@cti-test-agents/n`) that answer at
once, so no SIP phone or SIPp is needed; the tests add them to the queues
with QueueAdd and remove them afterwards.

Environment:
  CTI_TEST_ASTERISK           host (or host:ami_port) of the Asterisk; unset = skip
  CTI_TEST_ASTERISK_ARI_PORT  its HTTP/ARI port (default 8088)
  CTI_AMI_USERNAME, CTI_AMI_SECRET, CTI_ARI_USERNAME, CTI_ARI_PASSWORD
                              as for `cti serve`; the defaults match asterisk-conf/
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from cti.app import CtiService
from cti.config import Settings
from cti.store import Store, seed_demo

__all__ = [
    "ENV",
    "PASSWORD",
    "TEST_AGENTS",
    "LiveCti",
    "Target",
    "frames_until",
    "open_live_cti",
    "target_from_env",
]

ENV = "CTI_TEST_ASTERISK"
PASSWORD = "live-test-pass"
# login -> (display name, the test phone's interface); extensions-test.conf answers them.
TEST_AGENTS: dict[str, tuple[str, str]] = {
    "t-alice": ("Test Alice", "Local/1001@cti-test-agents/n"),
    "t-bob": ("Test Bob", "Local/1002@cti-test-agents/n"),
}
TEST_CONTEXTS = ("cti-test-caller", "cti-test-agents", "cti-test-dial")
WAIT = 30.0  # seconds: an IVR pass takes about 8 s; every wait gives up after this


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    ami_port: int
    ari_port: int


def target_from_env() -> Target | None:
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    host, _, port = value.partition(":")
    ari_port = os.environ.get(f"{ENV}_ARI_PORT", "8088")
    return Target(host, int(port or "5038"), int(ari_port))


@dataclass(slots=True)
class LiveCti:
    service: CtiService
    store: Store
    target: Target
    http: str  # http://127.0.0.1:<port> of the CTI

    @property
    def ws(self) -> str:
        return self.http.replace("http://", "ws://", 1) + "/ws"

    async def ami(self, action: str, **fields: str) -> None:
        await self.service.client.send_action(action, fields, timeout=10.0)

    async def channels(self) -> list[str]:
        result = await self.service.client.send_list_action("CoreShowChannels", timeout=10.0)
        return [item.fields.get("Channel", "") for item in result.items]

    async def channel_like(self, prefix: str, half: str = ";1") -> str:
        """The name of the one live channel `prefix...<half>`; waits for it."""
        async with asyncio.timeout(WAIT):
            while True:
                found = [c for c in await self.channels() if c.startswith(prefix)]
                found = [c for c in found if c.endswith(half)]
                if found:
                    return found[0]
                await asyncio.sleep(0.2)

    async def place_queue_call(self, dnis: str, caller: str) -> None:
        """A caller through the real IVR: `Local/<dnis>@from-pstn`'s ;2 half runs it."""
        await self.ami(
            "Originate",
            Channel=f"Local/{dnis}@from-pstn/n",
            Context="cti-test-caller",
            Exten="s",
            Priority="1",
            CallerID=f'"Live Test" <{caller}>',
            Async="true",
            Timeout="30000",
        )

    async def login(self, login: str) -> str:
        async with httpx.AsyncClient(base_url=self.http, timeout=10.0) as http:
            response = await http.post("/api/login", json={"login": login, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert isinstance(token, str)
        return token

    @contextlib.asynccontextmanager
    async def agent_socket(self, login: str) -> AsyncIterator[ClientConnection]:
        token = await self.login(login)
        async with connect(f"{self.ws}?token={token}", open_timeout=10, close_timeout=1) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            assert hello["type"] == "hello", hello
            yield ws


async def frames_until(ws: ClientConnection, kind: str, wait: float = WAIT) -> list[dict[str, Any]]:
    """Every frame up to and including the first of type `kind`."""
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(wait):
            while not frames or frames[-1].get("type") != kind:
                data = json.loads(await ws.recv())
                assert isinstance(data, dict)
                frames.append(data)
    except TimeoutError:
        seen = [f.get("type") for f in frames]
        raise AssertionError(f"no {kind} within {wait}s; got {seen}") from None
    return frames


async def _check_asterisk(service: CtiService) -> None:
    """Fail with the fix when the Asterisk is not the test stack."""
    for context in TEST_CONTEXTS:
        try:
            await service.client.send_list_action(
                "ShowDialPlan", {"Context": context}, timeout=10.0
            )
        except Exception as exc:
            raise AssertionError(
                f"context [{context}] is missing on the Asterisk at ${ENV} ({exc}): start it"
                " with docker compose -f docker/compose.yml -f docker/compose.test.yml"
            ) from exc


async def _cleanup(service: CtiService) -> None:
    """Hang up every Local channel the tests made and take the test phones out of queues."""
    if not service.client.connected:
        return
    with contextlib.suppress(Exception):
        await service.client.send_action("Hangup", {"Channel": "/^Local\\//"}, timeout=5.0)
    for _name, interface in TEST_AGENTS.values():
        for queue in ("support", "sales"):
            with contextlib.suppress(Exception):
                await service.client.send_action(
                    "QueueRemove", {"Queue": queue, "Interface": interface}, timeout=5.0
                )


@contextlib.asynccontextmanager
async def open_live_cti(target: Target, tmp_path: Path) -> AsyncIterator[LiveCti]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with Store(url) as store:
        await seed_demo(store)  # the demo customers the callers match
        for login, (name, interface) in TEST_AGENTS.items():
            await store.create_agent(login, name, PASSWORD, "agent", interface)
        settings = Settings(
            ami_host=target.host,
            ami_port=target.ami_port,
            ari_url=f"http://{target.host}:{target.ari_port}",
            database_url=url,
            http_host="127.0.0.1",
            http_port=0,
            token_secret="live-" + "s" * 40,
        )
        service = await CtiService.create(settings, store)
        runner = asyncio.create_task(service.run(), name="live-cti")
        try:
            await service.wait_http_started()
            await service.client.wait_connected(timeout=WAIT)
            await _check_asterisk(service)
            await _cleanup(service)  # what an earlier, interrupted run left
            yield LiveCti(service, store, target, f"http://127.0.0.1:{service.http_port}")
        finally:
            await _cleanup(service)
            service.server.should_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(runner), 10.0)
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
