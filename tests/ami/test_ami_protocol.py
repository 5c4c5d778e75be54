"""The AMI codec on the recorded Asterisk 22 traces, split every way, and on junk."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from trace_paths import TRACES

from cti.ami.fields import parse_lines
from cti.ami.protocol import (
    AmiParser,
    BadFrame,
    Banner,
    Event,
    LocalProtocolError,
    Message,
    Response,
    encode_action,
)

TRACE_FILES = sorted(TRACES.glob("*.jsonl"))
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def ami_bytes(path: Path) -> bytes:
    with path.open(encoding="utf-8") as fh:
        return "".join(o["raw"] for o in map(json.loads, fh) if o["src"] == "ami").encode()


def parse(chunks: list[bytes], *, lazy: bool = True, limit: int | None = None) -> list[Message]:
    parser = AmiParser(lazy=lazy) if limit is None else AmiParser(lazy=lazy, max_frame_bytes=limit)
    out: list[Message] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out + parser.feed_eof()


def random_chunks(data: bytes, seed: int, top: int = 700) -> list[bytes]:
    rng = random.Random(seed)
    chunks, i = [], 0
    while i < len(data):
        n = rng.randint(1, top)
        chunks.append(data[i : i + n])
        i += n
    return chunks


def one_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_the_traces_are_there() -> None:
    assert len(TRACE_FILES) >= 9


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_trace_parses_cleanly(path: Path) -> None:
    data = ami_bytes(path)
    msgs = parse([data])
    assert isinstance(msgs[0], Banner)
    assert msgs[0].version == "11.0.0"
    assert not [m for m in msgs if isinstance(m, BadFrame)]
    assert len(msgs) - 1 == data.count(b"\r\n\r\n")
    assert parse([data], lazy=False) == msgs  # eager and lazy events are equal


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_trace_split_anywhere_gives_the_same_messages(path: Path) -> None:
    data = ami_bytes(path)
    whole = parse([data])
    if path.stem == "load_bulk":  # 3 MB: byte by byte on its first 150 kB only
        head = data[: data.index(b"\r\n\r\n", 150_000) + 4]
        assert parse(one_byte(head)) == parse([head])
    else:
        assert parse(one_byte(data)) == whole
    for seed in range(3):
        assert parse(random_chunks(data, seed)) == whole
        assert parse(random_chunks(data, seed, top=70_000), lazy=False) == whole


def test_fields_of_a_real_event_and_first_occurrence_wins() -> None:
    msgs = parse([ami_bytes(TRACES / "queue_answered.jsonl")])
    events = [m for m in msgs if isinstance(m, Event)]
    user = next(
        e for e in events if e.name == "UserEvent" and e.fields.get("UserEvent") == "IVRStep"
    )
    assert "Event" not in user.fields
    raw = ami_bytes(TRACES / "queue_answered.jsonl").decode()
    frame = next(f for f in raw.split("\r\n\r\n") if "UserEvent: IVRStep" in f)
    first_uniqueid = frame.split("Uniqueid: ", 1)[1].split("\r\n", 1)[0]
    assert user.fields["Uniqueid"] == first_uniqueid
    login = next(m for m in msgs if isinstance(m, Response))
    assert (login.status, login.action_id, login.message) == (
        "Success",
        "login-1",
        "Authentication accepted",
    )


def test_repeated_key_keeps_the_first_value_in_every_mode() -> None:
    data = BANNER + b"Event: UserEvent\r\nUniqueid: 1.1\r\nA: x\r\nUniqueid: evil\r\n\r\n"
    for lazy in (True, False):
        (_, event) = parse([data], lazy=lazy)
        assert isinstance(event, Event)
        assert dict(event.fields) == {"Uniqueid": "1.1", "A": "x"}


def test_odd_but_valid_header_spacing_is_read_like_asterisk_means_it() -> None:
    data = BANNER + b"Event: Odd\r\nKey:value\r\n Spaced : v \r\nEmpty: \r\nColon: a: b\r\n\r\n"
    (_, event) = parse([data])
    assert isinstance(event, Event)
    assert dict(event.fields) == {"Key": "value", "Spaced": "v ", "Empty": "", "Colon": "a: b"}


def test_utf8_character_split_across_reads_survives() -> None:
    frame = "Event: UserEvent\r\nCallerIDName: José\r\n\r\n".encode()
    cut = frame.index("é".encode()) + 1  # between the two bytes of é
    for chunks in ([BANNER + frame[:cut], frame[cut:]], one_byte(BANNER + frame)):
        (_, event) = parse(chunks)
        assert isinstance(event, Event)
        assert event.fields["CallerIDName"] == "José"


GOOD = b"Event: Hangup\r\nChannel: PJSIP/1001-1\r\nCause: 16\r\n\r\n"


def _bad_input_cases() -> list[tuple[str, bytes, str]]:
    return [
        ("no colon", b"garbage line\r\n\r\n", "Key: Value"),
        ("no event or response", b"Foo: bar\r\n\r\n", "neither Event nor Response"),
        ("empty key", b"Response: Success\r\n: x\r\n\r\n", "Key: Value"),
        ("empty event name", b"Event: \r\nA: b\r\n\r\n", "empty Event name"),
        ("invalid utf-8", b"Event: X\r\nName: \xff\xfe\r\n\r\n", "invalid UTF-8"),
    ]


@pytest.mark.parametrize(("case", "junk", "reason"), _bad_input_cases(), ids=lambda v: str(v))
def test_bad_frame_is_reported_counted_and_the_next_frame_parses(
    case: str, junk: bytes, reason: str
) -> None:
    data = BANNER + GOOD + junk + GOOD
    for chunks in ([data], one_byte(data), random_chunks(data, 7, 9)):
        parser = AmiParser()
        msgs: list[Message] = []
        for chunk in chunks:
            msgs += parser.feed(chunk)
        assert [type(m) for m in msgs] == [Banner, Event, BadFrame, Event], case
        bad = msgs[2]
        assert isinstance(bad, BadFrame)
        assert reason in bad.reason
        assert msgs[1] == msgs[3]
        assert (parser.stats.frames, parser.stats.bad_frames) == (3, 1)


def test_malformed_line_inside_an_event() -> None:
    junk = b"Event: Newstate\r\nChannel: X\r\nthis line is broken\r\n\r\n"
    data = BANNER + junk + GOOD
    # Eager: the whole frame is a BadFrame.
    parser = AmiParser(lazy=False)
    msgs = parser.feed(data)
    assert [type(m) for m in msgs] == [Banner, BadFrame, Event]
    assert parser.stats.bad_frames == 1
    # Lazy: the event keeps its good lines; the bad one is skipped and counted.
    parser = AmiParser()
    msgs = parser.feed(data)
    assert [type(m) for m in msgs] == [Banner, Event, Event]
    event = msgs[1]
    assert isinstance(event, Event)
    assert dict(event.fields) == {"Channel": "X"}
    assert parser.stats.bad_lines == 1


def test_invalid_utf8_spoils_only_its_own_frame() -> None:
    data = BANNER + GOOD + b"Event: X\r\nName: \xc3\r\n\r\n" + "Event: Y\r\nN: é\r\n\r\n".encode()
    msgs = parse([data])
    assert [type(m) for m in msgs] == [Banner, Event, BadFrame, Event]
    assert msgs[3] == Event("Y", {"N": "é"})


@pytest.mark.parametrize("split", ["whole", "bytes", "random"])
def test_oversized_frame_is_dropped_and_parsing_resumes(split: str) -> None:
    big = b"Event: Big\r\n" + b"".join(b"K%d: %s\r\n" % (i, b"v" * 90) for i in range(30)) + b"\r\n"
    data = BANNER + GOOD + big + GOOD + big[:-4] + b"\r\n\r\n" + GOOD
    chunks = {"whole": [data], "bytes": one_byte(data), "random": random_chunks(data, 3, 500)}
    parser = AmiParser(max_frame_bytes=1024)
    msgs: list[Message] = []
    for chunk in chunks[split]:
        msgs += parser.feed(chunk)
    assert [type(m) for m in msgs] == [Banner, Event, BadFrame, Event, BadFrame, Event]
    assert all("over 1024 bytes" in m.reason for m in msgs if isinstance(m, BadFrame))
    assert (parser.stats.oversized, parser.stats.bad_frames, parser.stats.frames) == (2, 2, 5)


def test_a_frame_just_under_the_limit_is_fine_however_it_arrives() -> None:
    frame = b"Event: Edge\r\nK: " + b"v" * (1024 - 16) + b"\r\n\r\n"
    assert len(frame) - 4 == 1024
    for chunks in ([BANNER + frame], one_byte(BANNER + frame)):
        assert [type(m) for m in parse(chunks, limit=1024)] == [Banner, Event]


def test_truncated_frame_at_end_of_stream() -> None:
    parser = AmiParser()
    assert [type(m) for m in parser.feed(BANNER + GOOD + b"Event: Half\r\nChan")] == [
        Banner,
        Event,
    ]
    (bad,) = parser.feed_eof()
    assert isinstance(bad, BadFrame)
    assert "truncated" in bad.reason
    assert bad.raw == b"Event: Half\r\nChan"
    assert parser.stats.bad_frames == 1
    assert parser.feed_eof() == []


def test_unknown_event_names_are_ordinary_events() -> None:
    # The codec knows no event names; the model decides what it ignores.
    data = BANNER + b"Event: SomethingFromAsterisk99\r\nA: b\r\n\r\n" + GOOD
    msgs = parse([data])
    assert msgs[1] == Event("SomethingFromAsterisk99", {"A": "b"})
    assert msgs[2] == parse([BANNER + GOOD])[1]


def test_events_are_immutable_and_compare_by_content() -> None:
    (_, event) = parse([BANNER + GOOD])
    assert isinstance(event, Event)
    with pytest.raises(AttributeError):
        event.name = "Other"
    assert event == Event("Hangup", {"Channel": "PJSIP/1001-1", "Cause": "16"})
    assert event != Event("Hangup", {"Channel": "PJSIP/1001-1"})
    assert "Hangup" in repr(event)
    assert event.action_id is None


def test_encode_action() -> None:
    data = encode_action("Originate", "a-1", [("Channel", "PJSIP/1001"), ("Variable", "A=1")])
    assert data == (
        b"Action: Originate\r\nActionID: a-1\r\nChannel: PJSIP/1001\r\nVariable: A=1\r\n\r\n"
    )
    assert encode_action("Ping", "p", {"X": "é"}).endswith("X: é\r\n\r\n".encode())


@pytest.mark.parametrize(
    "args",
    [
        ("Ping\r\nAction: Logoff", "1", ()),
        ("Ping", "1\n", ()),
        ("Ping", "1", [("Channel", "PJSIP/1\r\nAction: Hangup")]),
        ("Ping", "1", [("Chan\rnel", "x")]),
        ("Ping", "1", [("Chan\nnel", "x")]),
        ("Ping", "1", [("Bad:Key", "x")]),
        ("Ping", "1", [(" ", "x")]),
        ("Ping", "1", {"Channel": "a\nb"}),
    ],
)
def test_encode_action_rejects_injection(args: tuple[str, str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        encode_action(*args)


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_single_key_lookups_match_the_full_dict(path: Path) -> None:
    data = ami_bytes(path)
    full = [m for m in parse([data], lazy=False) if isinstance(m, Event)]
    lazy = [m for m in parse([data]) if isinstance(m, Event)]
    probes = [k for e in full[:120] for k in e.fields] + ["Nope"]
    odd = ["", " Channel", "Chan:nel", "Channel "]  # never searched: answered by the dict
    for eager, event in zip(full[:120], lazy[:120], strict=True):
        expected = eager.fields
        for key in [*probes, *odd]:
            assert event.fields.get(key) == expected.get(key), key
            assert (key in event.fields) == (key in expected), key
            if key == "Nope":  # all plain keys were answered from the text
                assert event.fields._dict is None  # type: ignore[attr-defined]
        assert event.fields == expected


ODD_FRAMES = [
    b"Event: Odd\r\nKey:value\r\nKey: later\r\n\r\n",
    b"Event: Odd\r\n Key: lead\r\nKey: plain\r\n\r\n",
    b"Event: Odd\r\nKey : trail\r\nKey: plain\r\n\r\n",
    b"Event: Odd\r\nA: x : y\r\nKey: v\r\n\r\n",
    b"Event: Odd\r\nbroken\r\nKey: v\r\nEvent: second\r\n\r\n",
    b"Event: Odd\r\nKey:  two spaces\r\nEmpty:\r\nLast: \r\n\r\n",
    b"Event: Odd\r\nKey: v\r\n\tTab: t\r\nK\tey: w\r\n\r\n",
]


@pytest.mark.parametrize("raw", ODD_FRAMES)
def test_single_key_lookups_on_odd_frames_follow_the_reference(raw: bytes) -> None:
    lines = raw.decode().split("\r\n\r\n")[0].split("\r\n")[1:]
    reference, _ = parse_lines(lines)
    keys = set(reference) | {"Key", "Tab", "Event", "Nope", "K\tey", "Empty", "Last"}
    for key in keys:
        (_, event) = parse([BANNER + raw])
        assert isinstance(event, Event)
        assert event.fields.get(key) == reference.get(key), key
    (_, event) = parse([BANNER + raw])
    assert isinstance(event, Event)
    assert dict(event.fields) == reference
    assert len(event.fields) == len(reference)
