"""The fake Asterisk's ARI against ari_stasis_ivr.jsonl, over real sockets.

A generated stasis-IVR call, answered by a test application (plain
`websockets` + `httpx`) that does what the recorded one did: answer, play
`hello`, set CTI_CUSTOMER_ID=42, continue. Both streams must match the trace:
AMI as the other conformance tests compare it (same events, same headers, same
order per party), ARI the same way plus the key structure of every event, and
the order *between* the streams where the recording shows it (ARI trails AMI).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import httpx
import pytest
import websockets
from ari_tools import AUTH, AriApp, Body, ari_party_orders, shape, trace_ari, trace_merged
from sim_tools import header_names, parse, party_orders, real_events

from cti.ami.protocol import AmiParser, Event, encode_action
from cti.sim import FakeAsterisk
from cti.sim.ari_mirror import AriMessage, AriMirror, parse_frame
from cti.sim.calls import CallFlow
from cti.sim.stasis import STASIS_DNIS

TIMEOUT = 5.0
FLOW = CallFlow(
    kind="stasis",
    dnis=STASIS_DNIS,
    caller_num="sipp",
    caller_name="sipp",
    agents=("PJSIP/1001",),
    talk_time=0.3,
)
_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


class AmiTap:
    """A logged-in AMI connection that keeps every event frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = AmiParser()
        self.events: list[Event] = []

    @classmethod
    async def open(cls, fa: FakeAsterisk) -> AmiTap:
        reader, writer = await asyncio.open_connection("127.0.0.1", fa.port)
        tap = cls(reader, writer)
        writer.write(encode_action("Login", "login-1", {"Username": "cti", "Secret": "cti-secret"}))
        await tap.until(lambda e: e.name == "FullyBooted")
        tap.events.clear()
        return tap

    async def until(self, pred: Any, count: int = 1) -> None:
        seen = 0
        async with asyncio.timeout(TIMEOUT):
            while True:
                data = await self.reader.read(65536)
                assert data, "AMI connection closed"
                for msg in self.parser.feed(data):
                    if isinstance(msg, Event):
                        self.events.append(msg)
                        if pred(msg):
                            seen += 1
                            if seen == count:
                                return

    def close(self) -> None:
        self.writer.close()


class Recorder:
    """Both streams in the order the fake wrote them (its own listeners)."""

    def __init__(self, fa: FakeAsterisk) -> None:
        self.merged: list[tuple[str, Any]] = []
        fa.add_listener(lambda frames, _t: self.merged.extend(("ami", f) for f in frames))
        fa.ari.add_listener(self._ari)

    def _ari(self, batch: Any) -> None:
        for msg in batch:
            assert isinstance(msg, AriMessage)
            self.merged.append(("ari", msg.body))


async def _run_stasis_call(fa: FakeAsterisk, app: AriApp, tap: AmiTap) -> Body:
    fa.place_call(FLOW)
    start = await app.until("StasisStart")
    uid = start["channel"]["id"]
    http = app.http
    assert (await http.post(f"/channels/{uid}/answer")).status_code == 204
    played = await http.post(f"/channels/{uid}/play", params={"media": "sound:hello"})
    assert played.status_code == 201
    await app.until("PlaybackFinished")
    r = await http.post(
        f"/channels/{uid}/variable", params={"variable": "CTI_CUSTOMER_ID", "value": "42"}
    )
    assert r.status_code == 204
    assert (await http.post(f"/channels/{uid}/continue")).status_code == 204
    await app.until("ChannelDestroyed", 2)
    await app.until("DeviceStateChanged")  # the agent's phone is free again
    # ARI trails AMI: the AMI stream is complete by now; read what is left of it.
    if not _call_over(tap.events):
        await tap.until(lambda _e: _call_over(tap.events))
    return start


def _call_over(events: list[Event]) -> bool:
    """Both legs hung up and both phones (trunk, agent) reported again since."""
    hangups = [i for i, e in enumerate(events) if e.name == "Hangup"]
    if len(hangups) < 2:
        return False
    after = {e.fields["Device"] for e in events[hangups[0] :] if e.name == "DeviceStateChange"}
    return {"PJSIP/pstn", "PJSIP/1001"} <= after


async def test_stasis_call_matches_the_trace() -> None:
    async with FakeAsterisk(playback_seconds=0.2) as fa:
        recorder = Recorder(fa)
        tap = await AmiTap.open(fa)
        async with AriApp(fa) as app:
            start = await _run_stasis_call(fa, app, tap)
        tap.close()
        await asyncio.sleep(0.1)  # the ticker's last flush

    # AMI: the recorded events, headers and order per party.
    real = real_events("ari_stasis_ivr.jsonl")
    gen = [e for e in tap.events if e.name not in ("SuccessfulAuth",)]
    assert Counter(e.name for e in gen) == Counter(e.name for e in real)
    assert header_names(gen) == header_names(real)
    assert party_orders(gen) == party_orders(real)
    varsets = [(e.fields["Variable"], e.fields["Value"]) for e in gen if e.name == "VarSet"]
    assert ("CTI_CUSTOMER_ID", "42") in varsets
    assert [v for k, v in varsets if k == "STASISSTATUS"] == ["", "SUCCESS"]
    user = next(e for e in gen if e.name == "UserEvent")
    assert (user.fields["Step"], user.fields["Customer"]) == ("stasis-done", "42")

    # ARI: the recorded event types, their key structure, order per party.
    real_ari, got = trace_ari(), app.events
    assert Counter(e["type"] for e in got) == Counter(e["type"] for e in real_ari)
    assert ari_party_orders(got) == ari_party_orders(real_ari)
    real_shapes = {(e["type"], shape(e)) for e in real_ari}
    for e in got:
        assert (e["type"], shape(e)) in real_shapes, e["type"]
        assert e["application"] == "cti-ivr"
        assert e["asterisk_id"] == "02:fc:00:00:00:01"
        assert _TS.match(e["timestamp"]), e["timestamp"]
    assert start["args"] == ["lookup"]
    assert start["channel"]["dialplan"] == {
        "context": "from-pstn",
        "exten": STASIS_DNIS,
        "priority": 3,
        "app_name": "Stasis",
        "app_data": "cti-ivr,lookup",
    }
    assert start["channel"]["caller"] == {"name": "sipp", "number": "sipp"}
    customer = [e for e in got if e.get("variable") == "CTI_CUSTOMER_ID"]
    assert [e["value"] for e in customer] == ["42"]
    userevent = next(e for e in got if e["type"] == "ChannelUserevent")
    assert userevent["userevent"]["Customer"] == "42"
    dials = [e["dialstatus"] for e in got if e["type"] == "Dial"]
    assert dials == ["", "RINGING", "ANSWER"]

    # Between the streams: what the recording shows, the fake does.
    _assert_cross_order(trace_merged(), recorder.merged)


def _tokens(merged: list[tuple[str, Any]]) -> list[tuple[str, str, str]]:
    """(src, type, detail) per item; detail: the variable, or the dialplan app."""
    out: list[tuple[str, str, str]] = []
    for src, item in merged:
        if src == "ami":
            parsed = parse([item])
            if not parsed:  # a frame the comparisons leave out (SuccessfulAuth)
                continue
            event = parsed[0]
            f = event.fields
            out.append(("ami", event.name, f.get("Variable") or f.get("Application") or ""))
        else:
            out.append(
                ("ari", item["type"], item.get("variable") or item.get("dialplan_app") or "")
            )
    return out


# (earlier, later): the order the recording shows between the two streams.
_ANCHORS = [
    (("ami", "Newexten", "Stasis"), ("ari", "StasisStart", "")),
    (("ami", "VarSet", "STASISSTATUS"), ("ari", "StasisStart", "")),
    (("ari", "StasisStart", ""), ("ami", "Newstate", "")),  # the app answers after StasisStart
    (("ari", "PlaybackFinished", ""), ("ami", "VarSet", "CTI_CUSTOMER_ID")),
    (("ami", "VarSet", "CTI_CUSTOMER_ID"), ("ari", "ChannelVarset", "CTI_CUSTOMER_ID")),
    (("ari", "ChannelVarset", "CTI_CUSTOMER_ID"), ("ari", "StasisEnd", "")),
    (("ami", "UserEvent", ""), ("ari", "StasisEnd", "")),
    (("ami", "AgentCalled", ""), ("ari", "StasisEnd", "")),  # ARI trails AMI
    (("ari", "StasisEnd", ""), ("ari", "ChannelDialplan", "UserEvent")),
    (("ami", "UserEvent", ""), ("ari", "ChannelUserevent", "")),
    (("ami", "QueueCallerJoin", ""), ("ari", "ChannelDialplan", "Queue")),
]


def _first(tokens: list[tuple[str, str, str]], token: tuple[str, str, str]) -> int:
    for i, t in enumerate(tokens):
        if t[:2] == token[:2] and (not token[2] or t[2] == token[2]):
            return i
    raise AssertionError(f"{token} missing")


def _assert_cross_order(real: list[tuple[str, Any]], gen: list[tuple[str, Any]]) -> None:
    real_t, gen_t = _tokens(real), _tokens(gen)
    for before, after in _ANCHORS:
        assert _first(real_t, before) < _first(real_t, after), ("trace", before, after)
        assert _first(gen_t, before) < _first(gen_t, after), (before, after)
    # Every mirrored ARI event trails its AMI event (the k-th of its kind and
    # channel); in the recording only the timer-driven RTP statistics do not.
    for name, tokens in (("trace", real_t), ("fake", gen_t)):
        early = _ari_before_ami(tokens)
        allowed = {"RTPAUDIOQOS"} if name == "trace" else set()
        assert {detail for _, detail in early} <= allowed, (name, early)


_SOURCE = {
    "ChannelCreated": "Newchannel",
    "ChannelVarset": "VarSet",
    "ChannelDialplan": "Newexten",
    "ChannelUserevent": "UserEvent",
}


def _ari_before_ami(tokens: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    mirrored: Counter[tuple[str, str]] = Counter()
    early: list[tuple[str, str]] = []
    for src, kind, detail in tokens:
        if src == "ami":
            seen[(kind, detail)] += 1
        elif kind in _SOURCE:
            key = (_SOURCE[kind], detail)
            mirrored[key] += 1
            if mirrored[key] > seen[key]:
                early.append((kind, detail))
    return early


async def test_no_app_registered_fails_stasis_and_goes_on() -> None:
    """Only another app listens: STASISSTATUS=FAILED, no customer, queue as usual."""
    async with FakeAsterisk() as fa:
        tap = await AmiTap.open(fa)
        async with AriApp(fa, app="someone-else") as other:
            fa.place_call(FLOW)
            await tap.until(lambda e: e.name == "Hangup", 2)
            await other.until("ChannelDestroyed", 2)
        tap.close()
    varsets = [(e.fields["Variable"], e.fields["Value"]) for e in tap.events if e.name == "VarSet"]
    assert [v for k, v in varsets if k == "STASISSTATUS"] == ["", "FAILED"]
    assert "CTI_CUSTOMER_ID" not in {k for k, _ in varsets}
    user = next(e for e in tap.events if e.name == "UserEvent")
    assert user.fields["Customer"] == ""
    assert any(e.name == "AgentConnect" for e in tap.events)
    types = {e["type"] for e in other.events}
    assert not types & {"StasisStart", "StasisEnd"}
    assert {"ChannelCreated", "Dial", "ChannelEnteredBridge"} <= types
    assert {e["application"] for e in other.events} == {"someone-else"}


async def test_hangup_in_stasis_ends_stasis_first() -> None:
    async with FakeAsterisk() as fa:
        tap = await AmiTap.open(fa)
        async with AriApp(fa) as app:
            fa.place_call(FLOW)
            start = await app.until("StasisStart")
            r = await app.http.delete(f"/channels/{start['channel']['id']}")
            assert r.status_code == 204
            await app.until("ChannelDestroyed")
            await tap.until(lambda e: e.name == "Hangup")
        tap.close()
    after = [e["type"] for e in app.events[app.events.index(start) + 1 :]]
    assert after.index("StasisEnd") < after.index("ChannelHangupRequest")
    assert after[-1] == "ChannelDestroyed"
    assert not any(e.name in ("QueueCallerJoin", "AgentCalled") for e in tap.events)


async def test_hold_dtmf_and_channel_list() -> None:
    async with FakeAsterisk() as fa:
        tap = await AmiTap.open(fa)
        async with AriApp(fa) as app:
            fa.place_call(FLOW)
            start = await app.until("StasisStart")
            uid = start["channel"]["id"]
            listed = (await app.http.get("/channels")).json()
            (mine,) = [c for c in listed if c["id"] == uid]
            assert mine["dialplan"]["app_name"] == "Stasis"
            assert mine["name"] == start["channel"]["name"]
            info = (await app.http.get("/asterisk/info")).json()
            assert info["system"]["entity_id"] == "02:fc:00:00:00:01"
            assert (await app.http.post(f"/channels/{uid}/hold")).status_code == 204
            await app.until("ChannelHold")
            assert (await app.http.delete(f"/channels/{uid}/hold")).status_code == 204
            await app.until("ChannelUnhold")
            r = await app.http.post(f"/channels/{uid}/dtmf", params={"dtmf": "12"})
            assert r.status_code == 204
            await tap.until(lambda e: e.name == "DTMFEnd", 2)
            assert (await app.http.delete(f"/channels/{uid}")).status_code == 204
            await app.until("ChannelDestroyed")
        tap.close()
    names = [e.name for e in tap.events]
    assert names.index("Hold") < names.index("Unhold") < names.index("DTMFBegin")
    dtmf = [(e.fields["Digit"], e.fields["Direction"]) for e in tap.events if e.name == "DTMFEnd"]
    assert dtmf == [("1", "Sent"), ("2", "Sent")]


async def test_rest_errors_like_asterisk() -> None:
    async with FakeAsterisk() as fa:
        base = f"http://127.0.0.1:{fa.ari_port}/ari"
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as anon:
            assert (await anon.get("/channels")).status_code == 401
            assert (await anon.get("/channels", auth=("cti", "wrong"))).status_code == 401
            assert (await anon.get("/channels", params={"api_key": "cti:nope"})).status_code == 401
            r = await anon.get("/channels", params={"api_key": "cti:cti-secret"})
            assert (r.status_code, r.json()) == (200, [])
        with pytest.raises(websockets.InvalidStatus) as denied:
            await websockets.connect(
                f"ws://127.0.0.1:{fa.ari_port}/ari/events?app=cti-ivr&api_key=cti:bad"
            )
        assert denied.value.response.status_code == 401

        tap = await AmiTap.open(fa)
        async with AriApp(fa) as app:
            http = app.http
            r = await http.post("/channels/1234.5/answer")
            assert (r.status_code, r.json()) == (404, {"message": "Channel not found"})
            # A plain queue call never enters Stasis.
            fa.place_call(CallFlow(agents=("PJSIP/1001",), talk_time=5.0))
            created = await app.until("ChannelCreated")
            plain = created["channel"]["id"]
            for method, path in (
                ("POST", "answer"),
                ("POST", "continue"),
                ("POST", "hold"),
                ("POST", "variable?variable=X&value=1"),
            ):
                r = await http.request(method, f"/channels/{plain}/{path}")
                assert (r.status_code, r.json()) == (
                    409,
                    {"message": "Channel not in Stasis application"},
                ), path
            fa.place_call(FLOW)
            start = await app.until("StasisStart")
            uid = start["channel"]["id"]
            for path in ("variable", "dtmf", "play"):
                r = await http.post(f"/channels/{uid}/{path}")
                assert r.status_code == 400, path
                assert r.json()["message"]
            assert (await http.delete(f"/channels/{uid}")).status_code == 204
            await app.until("StasisEnd")
        tap.close()
    assert AUTH == ("cti", "cti-secret")


def test_mirror_of_the_trace_ami_is_the_trace_ari() -> None:
    """Fed the recorded AMI frames, the mirror writes the recorded ARI events.

    The Stasis events are asked for where the fake asks: StasisStart once the
    dialplan entered Stasis (STASISSTATUS cleared), StasisEnd when the
    application continues (before Stasis returns SUCCESS).
    """
    mirror = AriMirror()
    real = trace_ari()
    got: list[Body] = []
    snapshot: Any = None
    for src, item in trace_merged():
        if src != "ami":
            continue
        name, fields = parse_frame(item)
        f = dict(fields)
        if name == "VarSet" and (f["Variable"], f["Value"]) == ("STASISSTATUS", "SUCCESS"):
            end = mirror.stasis_end(snapshot, 0.0)
            assert end is not None
            got.append(end.body)
        got += [m.body for m in mirror.feed(item, 0.0)]
        if f.get("Channel", "").startswith("PJSIP/pstn"):
            snapshot = fields
        if name == "VarSet" and (f["Variable"], f["Value"]) == ("STASISSTATUS", ""):
            got.append(mirror.stasis_start(snapshot, "cti-ivr", ["lookup"], 0.0).body)
        if name == "Newstate" and f["Channel"].startswith("PJSIP/pstn"):
            got += [e for e in real if e["type"].startswith("Playback")]
    assert Counter(e["type"] for e in got) == Counter(e["type"] for e in real)
    assert ari_party_orders(got) == ari_party_orders(real)

    def strip(e: Body) -> Any:
        return _without(e, {"timestamp", "creationtime", "protocol_id", "application"})

    assert Counter(map(repr, map(strip, got))) == Counter(map(repr, map(strip, real)))


def _without(value: Any, keys: set[str]) -> Any:
    """`value` without `keys`; lists sorted (a bridge lists its channels in no set order)."""
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in sorted(value.items()) if k not in keys}
    if isinstance(value, list):
        return sorted((_without(v, keys) for v in value), key=repr)
    return value
