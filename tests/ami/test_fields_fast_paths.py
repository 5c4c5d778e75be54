"""FrameFields' fast paths (inline lookups, `startswith`) against the reference parser."""

from __future__ import annotations

import json

import pytest
from trace_paths import TRACES

from cti.ami.fields import FrameFields, parse_lines
from cti.ami.protocol import AmiParser, Event

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _fields(text: str) -> FrameFields:
    """A fresh lazy view, as the parser makes it (no dict, plainness unknown)."""
    parser = AmiParser()
    parser.feed(BANNER)
    (msg,) = parser.feed(text.encode() + b"\r\n\r\n")
    assert isinstance(msg, Event)
    fields = msg.fields
    assert isinstance(fields, FrameFields)
    return fields


def _reference(text: str) -> dict[str, str]:
    return parse_lines(text.split("\r\n")[1:])[0]


# Frames a VarSet handler could meet; each is read by the reference and by the fast paths.
ODD_VARSETS = [
    "Event: VarSet\r\nUniqueid: 1.1\r\nVariable: CTI_ACCOUNT\r\nValue: 42",
    "Event: VarSet\r\nUniqueid: 1.1\r\nVariable: RTPAUDIOQOS\r\nValue: x",
    "Event: VarSet\r\nVariable:CTI_NOSPACE\r\nValue: 1",
    "Event: VarSet\r\nVariable:  CTI_TWO_SPACES\r\nValue: 1",
    "Event: VarSet\r\nVariable: \r\nValue: 1",
    "Event: VarSet\r\nVariable:\r\nValue: 1",
    "Event: VarSet\r\nValue: 1",  # no Variable at all: KeyError, like fields["Variable"]
    "Event: VarSet\r\n Variable: CTI_LEADING_SPACE\r\nValue: 1",
    "Event: VarSet\r\n\tVariable: CTI_LEADING_TAB\r\nValue: 1",
    "Event: VarSet\r\nVariable : CTI_SPACE_BEFORE_COLON\r\nValue: 1",
    "Event: VarSet\r\nVariable\t: CTI_TAB_BEFORE_COLON\r\nValue: 1",
    "Event: VarSet\r\n Variable: OTHER\r\nVariable: CTI_LATER\r\nValue: 1",  # first wins
    "Event: VarSet\r\nVariable: OTHER\r\n Variable: CTI_LATER\r\nValue: 1",
    "Event: VarSet\r\nVariable: CTI_FIRST\r\nVariable: OTHER\r\nValue: 1",
    "Event: VarSet\r\nVariable: OTHER\r\nVariable: CTI_LATER\r\nValue: 1",
    # a CTI_ variable in a frame with a continuation-like line (starts with whitespace)
    "Event: VarSet\r\nVariable: CTI_MENU\r\n  continued text\r\nValue: 1",
    "Event: VarSet\r\nApp: x\r\n\tmore: y\r\nVariable: CTI_MENU\r\nValue: 1",
    "Event: VarSet\r\nValue: Variable: CTI_IN_A_VALUE\r\nVariable: OTHER",
    "Event: VarSet\r\nNote: Variable\r\nVariable: CTI_KEY_TWICE_IN_TEXT",
    "Event: VarSet\r\nVariable: CTI_LAST_LINE_NO_CRLF",
    "Event: VarSet\r\nVariable: CTI",  # shorter than the prefix
    "Event: VarSet\r\nVariable: cti_lower",
    "Event: VarSet\r\nbroken line\r\nVariable: CTI_AFTER_JUNK",
]


@pytest.mark.parametrize("text", ODD_VARSETS)
@pytest.mark.parametrize("prefix", ["CTI_", "", "C", "CTI_MENU", "OTHER"])
def test_startswith_agrees_with_the_mapping_and_the_reference(text: str, prefix: str) -> None:
    reference = _reference(text)
    fields = _fields(text)
    if "Variable" not in reference:
        with pytest.raises(KeyError):
            fields.startswith("Variable", prefix)
        with pytest.raises(KeyError):
            _fields(text)["Variable"]
        return
    expected = reference["Variable"].startswith(prefix)
    assert fields.startswith("Variable", prefix) is expected
    assert _fields(text)["Variable"].startswith(prefix) is expected
    # after the dict is built (iteration), the same answers
    assert dict(fields) == reference
    assert fields.startswith("Variable", prefix) is expected


@pytest.mark.parametrize("prefix", ["CTI_A\r", "CTI_A\r\n", "\r\nValue", "A\n"])
def test_startswith_never_matches_past_the_end_of_a_value(prefix: str) -> None:
    text = "Event: VarSet\r\nVariable: CTI_A\r\nValue: 1"
    assert _fields(text).startswith("Variable", prefix) is False


def test_startswith_odd_keys_fall_back_to_the_dict() -> None:
    text = "Event: X\r\nA: CTI_x\r\n"
    fields = _fields(text)
    with pytest.raises(KeyError):
        fields.startswith(" A", "CTI_")
    with pytest.raises(KeyError):
        fields.startswith("", "CTI_")
    assert fields.startswith("A", "CTI_") is True


def test_getitem_get_and_contains_agree_on_odd_frames() -> None:
    for text in ODD_VARSETS:
        reference = _reference(text)
        for key in ["Variable", "Value", "Uniqueid", "Nope", "App", "Note", " Variable", ""]:
            fields = _fields(text)
            assert fields.get(key) == reference.get(key), (text, key)
            assert (key in _fields(text)) == (key in reference), (text, key)
            if key in reference:
                assert _fields(text)[key] == reference[key]
            else:
                with pytest.raises(KeyError):
                    _fields(text)[key]


def test_startswith_on_every_varset_of_the_traces() -> None:
    seen = 0
    for path in sorted(TRACES.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            data = "".join(o["raw"] for o in map(json.loads, fh) if o["src"] == "ami")
        parser = AmiParser()
        for msg in parser.feed(data.encode()):
            if isinstance(msg, Event) and msg.name == "VarSet":
                fields = msg.fields
                assert isinstance(fields, FrameFields)
                variable = dict(FrameFields(fields._text))["Variable"]
                assert fields.startswith("Variable", "CTI_") is variable.startswith("CTI_")
                seen += 1
    assert seen > 100
