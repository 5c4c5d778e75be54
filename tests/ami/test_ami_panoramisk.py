"""Differential test: our codec and panoramisk's parser on the same trace bytes.

Where they agree the traces settle nothing; where they differ, panoramisk is
wrong, and each test below says how:
- it decodes every TCP read on its own, so a UTF-8 character split across two
  reads is silently dropped ("José" arrives as "Jos");
- it strips each frame, so a trailing empty value on the last line is lost;
- it turns a repeated key into a list, where Asterisk's first value is meant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

panoramisk_proto = pytest.importorskip("panoramisk.ami_protocol")

from trace_paths import TRACES  # noqa: E402

from cti.ami.protocol import AmiParser, Event  # noqa: E402

TRACE_FILES = sorted(TRACES.glob("*.jsonl"))
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def ami_bytes(path: Path) -> bytes:
    with path.open(encoding="utf-8") as fh:
        return "".join(o["raw"] for o in map(json.loads, fh) if o["src"] == "ami").encode()


class _Factory:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events.append(message)


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def panoramisk_events(chunks: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    """Events as panoramisk's AMIProtocol dispatches them (utf8, as its Manager sets)."""
    proto = panoramisk_proto.AMIProtocol()
    proto.connection_made(_Transport())
    factory = _Factory()
    proto.factory = factory
    proto.encoding = "utf8"
    for chunk in chunks:
        proto.data_received(chunk)
    out = []
    for msg in factory.events:
        fields = {k: v for k, v in msg.items() if k not in ("content", "Event")}
        out.append((msg["Event"], fields))
    return out


def our_events(chunks: list[bytes]) -> list[Event]:
    parser = AmiParser()
    msgs = [m for chunk in chunks for m in parser.feed(chunk)]
    return [m for m in msgs if isinstance(m, Event)]


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_same_events_as_panoramisk_on_every_trace(path: Path) -> None:
    data = ami_bytes(path)
    ours = our_events([data])
    theirs = panoramisk_events([data])
    assert [e.name for e in ours] == [name for name, _ in theirs]
    for event, (_, fields) in zip(ours, theirs, strict=True):
        expected = dict(event.fields)
        for key, value in list(fields.items()):
            if isinstance(value, list):  # panoramisk's bug 3: repeated key -> list
                assert expected[key] == value[0]
                fields[key] = value[0]
        for key in set(expected) - set(fields):  # panoramisk's bug 2: stripped frame
            assert expected[key] == "", (event.name, key)
            del expected[key]
        assert fields == expected, event.name


def test_panoramisk_loses_a_utf8_character_split_across_reads() -> None:
    frame = "Event: UserEvent\r\nCallerIDName: José\r\nUniqueid: 1.1\r\n\r\n".encode()
    cut = frame.index("é".encode()) + 1
    chunks = [BANNER + frame[:cut], frame[cut:]]
    ((_, theirs),) = panoramisk_events(chunks)
    assert theirs["CallerIDName"] == "Jos"  # panoramisk is wrong: the é is gone
    (ours,) = our_events(chunks)
    assert ours.fields["CallerIDName"] == "José"


def test_panoramisk_drops_an_empty_last_value() -> None:
    chunks = [BANNER + b"Event: Newchannel\r\nChannel: PJSIP/1-1\r\nAccountCode: \r\n\r\n"]
    ((_, theirs),) = panoramisk_events(chunks)
    assert "AccountCode" not in theirs  # panoramisk is wrong: the header was sent
    (ours,) = our_events(chunks)
    assert ours.fields["AccountCode"] == ""
