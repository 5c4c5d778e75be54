"""AMI wire codec: bytes in, typed messages out; actions to bytes.

Strategy: the Asterisk Manager Interface is a line protocol. After a one-line
banner ("Asterisk Call Manager/11.0.0\\r\\n") every message is a block of
"Key: Value\\r\\n" lines ended by an empty line. The parser keeps undecoded
bytes in one buffer and only decodes complete frames, so a UTF-8 character
split across TCP reads is never lost. Nothing here does I/O: the asyncio shell
(client.py) feeds bytes in and writes the bytes `encode_action` returns.

Junk from the peer never raises: a frame that cannot be parsed becomes a
`BadFrame` message (with the reason) and parsing goes on with the next frame.
Misuse by the caller (a CR or LF smuggled into an action) raises
`LocalProtocolError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_FRAME_BYTES",
    "AmiParser",
    "Banner",
    "BadFrame",
    "Event",
    "LocalProtocolError",
    "Message",
    "Response",
    "encode_action",
]

# Asterisk frames are a few kB at most; a peer that sends more without a blank
# line is broken or hostile, and buffering it forever would exhaust memory.
MAX_FRAME_BYTES = 64 * 1024

_TERMINATOR = b"\r\n\r\n"


class LocalProtocolError(ValueError):
    """The caller misused the codec (for example a CR/LF inside a field)."""


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line, "Asterisk Call Manager/<version>"."""

    version: str


@dataclass(frozen=True, slots=True)
class Event:
    """An unsolicited (or list-item) event. `fields` excludes the Event line.

    When a key repeats (a UserEvent may repeat Uniqueid), the first wins: the
    first occurrence is Asterisk's own, later ones are user supplied.
    """

    name: str
    fields: Mapping[str, str]

    @property
    def action_id(self) -> str | None:
        return self.fields.get("ActionID")


@dataclass(frozen=True, slots=True)
class Response:
    """A reply to an action: status is "Success", "Error", "Goodbye" or "Follows"."""

    status: str
    fields: Mapping[str, str]

    @property
    def action_id(self) -> str | None:
        return self.fields.get("ActionID")

    @property
    def message(self) -> str:
        return self.fields.get("Message", "")


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame the peer sent that could not be parsed, kept for logging."""

    reason: str
    raw: bytes = field(repr=False)


Message = Banner | Event | Response | BadFrame


def _parse_fields(text: str) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            return None
        key = key.strip()
        if not key:
            return None
        if key not in fields:
            fields[key] = value[1:] if value.startswith(" ") else value
    return fields


def _decode_frame(raw: bytes) -> Message:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadFrame(f"invalid UTF-8 at byte {exc.start}", raw)
    fields = _parse_fields(text)
    if fields is None:
        return BadFrame("line without 'Key: Value' form", raw)
    name = fields.pop("Event", None)
    if name is not None:
        return Event(name, fields)
    status = fields.pop("Response", None)
    if status is not None:
        return Response(status, fields)
    return BadFrame("frame has neither Event nor Response", raw)


class AmiParser:
    """Incremental parser. Feed bytes with `feed`, then drain `messages()`."""

    __slots__ = ("_buffer", "_banner_seen", "_discarding", "max_frame_bytes")

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._banner_seen = False
        self._discarding = False  # inside an oversized frame, skip to its end
        self.max_frame_bytes = max_frame_bytes

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes read from the socket; return every message now complete."""
        self._buffer += data
        out: list[Message] = []
        buf = self._buffer
        if not self._banner_seen:
            end = buf.find(b"\r\n")
            if end < 0:
                return out
            line = bytes(buf[:end])
            del buf[: end + 2]
            self._banner_seen = True
            text = line.decode("utf-8", "replace")
            out.append(Banner(text.rpartition("/")[2]) if "/" in text else BadFrame("bad banner", line))
        start = 0
        while True:
            end = buf.find(_TERMINATOR, start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            elif end > start:
                out.append(_decode_frame(bytes(buf[start:end])))
            start = end + 4
        if start:
            del buf[:start]
        if len(buf) > self.max_frame_bytes:
            out.append(BadFrame(f"frame over {self.max_frame_bytes} bytes", bytes(buf[:256])))
            buf.clear()
            self._discarding = True
        return out


def _check(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise LocalProtocolError(f"{what} contains CR or LF: {value!r}")
    return value


def encode_action(
    action: str,
    action_id: str,
    fields: Mapping[str, str] | Iterable[tuple[str, str]] = (),
) -> bytes:
    """Serialise an action. Pairs may repeat keys (Originate's `Variable`)."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    lines = [f"Action: {_check(action, 'action')}", f"ActionID: {_check(action_id, 'ActionID')}"]
    for key, value in items:
        if ":" in key or not key.strip():
            raise LocalProtocolError(f"invalid header name {key!r}")
        lines.append(f"{_check(key, 'header name')}: {_check(value, key)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
