"""Helpers for the fake ARI tests: a raw ARI test application and the trace's ARI side.

Strategy: the test application is plain `websockets` + `httpx` (not the
project's own ARI client), so the fake is checked against what the wire says,
and ARI events are compared per party like the AMI ones (sim_tools).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from trace_paths import TRACES

from cti.sim import FakeAsterisk

TIMEOUT = 5.0
AUTH = ("cti", "cti-secret")
Body = dict[str, Any]


def trace_ari(trace: str = "ari_stasis_ivr.jsonl") -> list[Body]:
    out: list[Body] = []
    with (TRACES / trace).open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj["src"] == "ari":
                out.append(obj["event"])
    return out


def trace_merged(trace: str = "ari_stasis_ivr.jsonl") -> list[tuple[str, Any]]:
    """Both streams in recorded order: ("ami", raw frame bytes) or ("ari", event)."""
    out: list[tuple[str, Any]] = []
    with (TRACES / trace).open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj["src"] == "ari":
                out.append(("ari", obj["event"]))
            elif obj["raw"].startswith("Event: "):
                out.append(("ami", obj["raw"].encode()))
    return out


def ari_party(event: Body, names: dict[str, str]) -> str:
    """Which party an ARI event is about, named by order of first appearance."""
    if "device_state" in event:
        return "device:" + str(event["device_state"]["name"])
    if "playback" in event:
        return "playback"
    chan = event.get("channel") or event.get("caller") or event.get("peer")
    if chan is not None:
        raw, kind = chan["id"], "channel"
    elif "bridge" in event:
        raw, kind = event["bridge"]["id"], "bridge"
    else:
        return "other"
    if raw not in names:
        names[raw] = f"{kind}#{sum(1 for v in names.values() if v.startswith(kind))}"
    return names[raw]


def ari_party_orders(events: list[Body]) -> dict[str, tuple[list[str], list[str]]]:
    """Per party: its non-Varset event types in order, its variables in order."""
    names: dict[str, str] = {}
    out: dict[str, tuple[list[str], list[str]]] = {}
    for e in events:
        types, variables = out.setdefault(ari_party(e, names), ([], []))
        if e["type"] == "ChannelVarset":
            variables.append(e["variable"])
        else:
            types.append(e["type"])
    return out


def shape(value: Any) -> Any:
    """The key structure of a JSON value (dict keys, recursively), values left out."""
    if isinstance(value, dict):
        return frozenset((k, shape(v)) for k, v in value.items())
    if isinstance(value, list):
        return "list"
    return type(value).__name__


class AriApp:
    """A test Stasis application: the events WebSocket and the REST API."""

    def __init__(self, fa: FakeAsterisk, app: str = "cti-ivr") -> None:
        self.base = f"http://127.0.0.1:{fa.ari_port}/ari"
        self.ws_url = (
            f"ws://127.0.0.1:{fa.ari_port}/ari/events?app={app}&subscribeAll=true"
            "&api_key=cti:cti-secret"
        )
        self.http = httpx.AsyncClient(base_url=self.base, auth=AUTH, timeout=TIMEOUT)
        self.events: list[Body] = []
        self._ws: Any = None

    async def __aenter__(self) -> AriApp:
        self._ws = await websockets.connect(self.ws_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()
        await self.http.aclose()

    async def next(self) -> Body:
        async with asyncio.timeout(TIMEOUT):
            event: Body = json.loads(await self._ws.recv())
        self.events.append(event)
        return event

    async def until(self, kind: str, count: int = 1) -> Body:
        """Read events up to the `count`-th of type `kind` from now."""
        seen = 0
        while True:
            event = await self.next()
            if event["type"] == kind:
                seen += 1
                if seen == count:
                    return event
