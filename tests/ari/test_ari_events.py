"""The ARI event codec on every ARI message of the recorded traces, and on junk."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import msgspec
import pytest
from trace_paths import TRACES

from cti.ari.errors import AriDecodeError
from cti.ari.events import (
    KNOWN_TYPES,
    AriEvent,
    BridgeCreated,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelUserevent,
    ChannelVarset,
    DeviceStateChanged,
    Dial,
    EventDecoder,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    decode_channel,
    decode_channels,
    decode_event,
)

# The types the contract (and the model) relies on: none may come out unknown.
CONTRACT_TYPES = {
    "StasisStart",
    "StasisEnd",
    "ChannelVarset",
    "ChannelDtmfReceived",
    "ChannelStateChange",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "ChannelDialplan",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "BridgeCreated",
    "BridgeDestroyed",
    "Dial",
    "PlaybackStarted",
    "PlaybackFinished",
    "ChannelUserevent",
    "DeviceStateChanged",
    "ChannelCreated",
    "ChannelCallerId",
    "ChannelConnectedLine",
}


def ari_messages(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [o["event"] for o in map(json.loads, fh) if o["src"] == "ari"]


TRACE_FILES = sorted(TRACES.glob("*.jsonl"))


def test_the_traces_are_there() -> None:
    assert len(TRACE_FILES) >= 8
    assert sum(len(ari_messages(p)) for p in TRACE_FILES) > 7000


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_every_ari_message_of_a_trace_decodes_typed(path: Path) -> None:
    messages = ari_messages(path)
    decoder = EventDecoder()
    for raw in messages:
        event = decoder.decode(json.dumps(raw))
        assert not isinstance(event, UnknownEvent), raw["type"]
        assert event.type == raw["type"]
        assert event.timestamp == raw["timestamp"]
        assert event.application == raw["application"] == "cti-ivr"
    assert decoder.stats.decoded == len(messages)
    assert decoder.stats.unknown == decoder.stats.errors == 0


def test_the_contract_types_are_modelled_and_all_seen_in_the_traces() -> None:
    assert CONTRACT_TYPES <= KNOWN_TYPES
    seen = collections.Counter(m["type"] for p in TRACE_FILES for m in ari_messages(p))
    assert set(seen) <= KNOWN_TYPES
    assert set(seen) >= CONTRACT_TYPES


def test_bytes_and_str_decode_alike() -> None:
    text = json.dumps(ari_messages(TRACES / "ari_stasis_ivr.jsonl")[0])
    assert decode_event(text) == decode_event(text.encode())


def _first(events: list[AriEvent], kind: type) -> AriEvent:
    return next(e for e in events if type(e) is kind)


def test_the_stasis_ivr_trace_fields() -> None:
    events = [decode_event(json.dumps(m)) for m in ari_messages(TRACES / "ari_stasis_ivr.jsonl")]
    start = _first(events, StasisStart)
    assert isinstance(start, StasisStart)
    assert start.args == ("lookup",)
    assert start.channel.id == "1795860720.389"
    assert start.channel.name == "PJSIP/pstn-000000bd"
    assert start.channel.state == "Ring"
    assert (start.channel.caller.name, start.channel.caller.number) == ("sipp", "sipp")
    assert start.channel.connected.number == ""
    cep = start.channel.dialplan
    assert (cep.context, cep.exten, cep.priority) == ("from-pstn", "18005550155", 3)
    assert (cep.app_name, cep.app_data) == ("Stasis", "cti-ivr,lookup")
    assert start.replace_channel is None

    end = _first(events, StasisEnd)
    assert isinstance(end, StasisEnd)
    assert end.channel.id == start.channel.id
    assert end.channel.state == "Up"

    customer = next(
        e for e in events if isinstance(e, ChannelVarset) and e.variable == "CTI_CUSTOMER_ID"
    )
    assert isinstance(customer, ChannelVarset)
    assert customer.value == "42"
    assert customer.channel is not None
    assert customer.channel.id == "1795860720.389"

    user = _first(events, ChannelUserevent)
    assert isinstance(user, ChannelUserevent)
    assert user.eventname == "IVRStep"
    assert user.userevent["Step"] == "stasis-done"
    assert user.userevent["Customer"] == "42"

    played = _first(events, PlaybackFinished)
    assert isinstance(played, PlaybackFinished)
    assert played.playback.media_uri == "sound:hello"
    assert played.playback.state == "done"

    dial = _first(events, Dial)
    assert isinstance(dial, Dial)
    assert dial.caller is not None
    assert (dial.caller.id, dial.peer.id, dial.dialstring) == (
        "1795860720.389",
        "1795860721.390",
        "PJSIP/1001",
    )
    assert dial.peer.caller.name == "Alice Agent"


def test_fields_of_the_other_types() -> None:
    events = [decode_event(json.dumps(m)) for p in TRACE_FILES for m in ari_messages(p)]
    entered = _first(events, ChannelEnteredBridge)
    assert isinstance(entered, ChannelEnteredBridge)
    assert entered.bridge.bridge_type == "mixing"
    assert entered.channel.id in entered.bridge.channels
    created = _first(events, BridgeCreated)
    assert isinstance(created, BridgeCreated)
    assert created.bridge.channels == ()
    destroyed = _first(events, ChannelDestroyed)
    assert isinstance(destroyed, ChannelDestroyed)
    assert isinstance(destroyed.cause, int)
    dtmf = _first(events, ChannelDtmfReceived)
    assert isinstance(dtmf, ChannelDtmfReceived)
    assert dtmf.digit in "0123456789*#"
    assert dtmf.duration_ms > 0
    device = _first(events, DeviceStateChanged)
    assert isinstance(device, DeviceStateChanged)
    assert device.device_state.state
    # Dial without a calling channel, and a hangup request without a cause,
    # are in the trace: optional fields decode to None, not an error.
    assert any(isinstance(e, Dial) and e.caller is None for e in events)
    assert any(isinstance(e, ChannelHangupRequest) and e.cause is None for e in events)


def test_events_are_frozen_and_resources_hashable() -> None:
    text = json.dumps(ari_messages(TRACES / "ari_stasis_ivr.jsonl")[0])
    event, again = decode_event(text), decode_event(text)
    with pytest.raises(AttributeError):
        event.timestamp = "x"  # type: ignore[misc]
    assert event == again
    assert hash(event) == hash(again)


def test_an_unknown_type_is_kept_not_raised() -> None:
    text = (
        '{"type": "ChannelTalkingStarted", "application": "cti-ivr", "timestamp": "t1", "x": [1]}'
    )
    event = decode_event(text)
    assert isinstance(event, UnknownEvent)
    assert event.type == "ChannelTalkingStarted"
    assert event.raw == json.loads(text)
    assert (event.application, event.timestamp) == ("cti-ivr", "t1")
    decoder = EventDecoder()
    decoder.decode(text)
    decoder.decode(text)
    assert decoder.stats.unknown == 2
    assert decoder.stats.unknown_types == {"ChannelTalkingStarted": 2}


def test_new_fields_from_a_newer_asterisk_are_ignored() -> None:
    raw = ari_messages(TRACES / "ari_stasis_ivr.jsonl")[0]
    newer = {**raw, "new_field": {"a": 1}, "channel": {**raw["channel"], "tenantid": "t"}}  # type: ignore[dict-item]
    assert decode_event(json.dumps(newer)) == decode_event(json.dumps(raw))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "not JSON"),
        ("not json", "not JSON"),
        ('{"type": "StasisStart"', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('"StasisStart"', "not a JSON object"),
        ("{}", 'no "type"'),
        ('{"type": 3}', 'no "type"'),
        ('{"type": ""}', 'no "type"'),
        ('{"type": "StasisStart"}', "bad StasisStart event"),
        ('{"type": "StasisStart", "channel": 3}', "bad StasisStart event"),
        ('{"type": "Dial", "peer": {"id": 7}}', "bad Dial event"),
    ],
)
def test_junk_raises_a_clear_error_that_keeps_the_text(text: str | bytes, says: str) -> None:
    decoder = EventDecoder()
    with pytest.raises(AriDecodeError, match=says) as info:
        decoder.decode(text)
    assert info.value.text == text
    assert decoder.stats.errors == 1
    assert decoder.stats.decoded == 0


def test_rest_channel_bodies() -> None:
    channel = ari_messages(TRACES / "ari_stasis_ivr.jsonl")[0]["channel"]
    one = decode_channel(json.dumps(channel))
    assert one.id == "1795860720.389"
    assert decode_channels(json.dumps([channel, channel])) == [one, one]
    assert decode_channels("[]") == []
    with pytest.raises(AriDecodeError, match="bad Channel list"):
        decode_channels('{"message": "oops"}')
    with pytest.raises(AriDecodeError, match="bad Channel"):
        decode_channel("<html>")


def test_structs_do_not_use_the_cycle_collector() -> None:
    # gc=False is what keeps a million buffered events cheap; see events.py.
    import gc

    event = decode_event(json.dumps(ari_messages(TRACES / "ari_stasis_ivr.jsonl")[0]))
    assert not gc.is_tracked(event)
    assert msgspec.structs.asdict(event)["application"] == "cti-ivr"
