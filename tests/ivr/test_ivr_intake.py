"""AriIntake: ARI items to the data-dip app and the engine; recovery on connect."""

from __future__ import annotations

import json

from test_ivr_app import Directory, FakeChannels

from cti.ari.events import Channel, StasisEnd, decode_event
from cti.ari.stream import AriConnected, AriDisconnected
from cti.ivr.app import IvrApp
from cti.ivr.intake import AriIntake

STASIS_START = {
    "type": "StasisStart",
    "application": "cti-ivr",
    "args": ["lookup"],
    "channel": {
        "id": "1.1",
        "name": "PJSIP/pstn-00000001",
        "state": "Ring",
        "caller": {"name": "Ada", "number": "15551230042"},
        "dialplan": {"context": "from-pstn", "exten": "18005550155", "priority": 3},
    },
}


class Engine:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def handle_ari(self, event: object) -> None:
        self.seen.append(type(event).__name__)


class Listing(FakeChannels):
    def __init__(self, channels: list[Channel], fail: bool = False) -> None:
        super().__init__()
        self.listed = channels
        self.fail_listing = fail

    async def channels(self) -> list[Channel]:
        if self.fail_listing:
            from cti.ari.errors import AriUnavailable

            raise AriUnavailable("connection refused")
        return self.listed


def channel(cid: str, app_name: str, app_data: str, number: str = "15551230042") -> Channel:
    raw: dict[str, object] = {
        "id": cid,
        "name": "PJSIP/pstn-00000002",
        "state": "Up",
        "caller": {"name": "", "number": number},
        "dialplan": {"app_name": app_name, "app_data": app_data},
    }
    event = decode_event(json.dumps({"type": "StasisEnd", "channel": raw}))
    assert isinstance(event, StasisEnd)
    return event.channel


async def test_stasis_start_reaches_the_app_and_every_event_the_engine() -> None:
    rest, engine = Listing([]), Engine()
    ivr = IvrApp(rest, Directory().lookup)
    intake = AriIntake(engine, ivr, rest)
    await intake(decode_event(json.dumps(STASIS_START)))
    await intake(decode_event(json.dumps({"type": "ChannelVarset", "variable": "X"})))
    await ivr.drain()
    assert engine.seen == ["StasisStart", "ChannelVarset"]
    assert rest.requests[0] == ("set", "1.1", "CTI_CUSTOMER_ID", "42")
    assert rest.requests[-1] == ("continue", "1.1")


async def test_on_connect_channels_left_in_the_app_are_served() -> None:
    rest = Listing(
        [
            channel("2.1", "Stasis", "cti-ivr,lookup"),
            channel("2.2", "Queue", "support,t"),
            channel("2.3", "Stasis", "other-app,lookup"),
            channel("2.4", "Stasis", "cti-ivr,lookup,42", number="sipp"),
        ]
    )
    engine = Engine()
    ivr = IvrApp(rest, Directory().lookup)
    intake = AriIntake(engine, ivr, rest)
    await intake(AriConnected(0.0, "ws://x/ari/events"))
    await ivr.drain()
    continued = [r[1] for r in rest.requests if r[0] == "continue"]
    assert sorted(continued) == ["2.1", "2.4"]
    assert intake.recovered == 2
    assert engine.seen == []


async def test_a_failed_listing_is_logged_and_the_stream_goes_on() -> None:
    rest, engine = Listing([], fail=True), Engine()
    ivr = IvrApp(rest, Directory().lookup)
    intake = AriIntake(engine, ivr, rest)
    await intake(AriConnected(0.0, "ws://x/ari/events"))
    await intake(AriDisconnected("closed", 1.0))
    await intake(decode_event(json.dumps(STASIS_START)))
    await ivr.drain()
    assert engine.seen == ["StasisStart"]
