"""AMI wire codec: bytes in, typed messages out; actions to bytes.

Strategy: the Asterisk Manager Interface is a line protocol. After a one-line
banner ("Asterisk Call Manager/11.0.0\\r\\n") every message is a block of
"Key: Value\\r\\n" lines ended by an empty line. Nothing here does I/O: the
asyncio shell (client.py) feeds bytes in and writes what `encode_action`
returns.

Speed comes from doing per-read work in C and as little as possible per frame:

- `feed` keeps the undecoded tail (bytes after the last "\\r\\n\\r\\n") and only
  decodes the complete region before it, so a UTF-8 character split across
  TCP reads is never lost. The region is decoded once; only if that fails is
  it decoded frame by frame, so one invalid frame spoils only itself.
- The decoded region is split at "\\r\\n\\r\\n" once. A frame that starts with
  "Event: " becomes an `Event` holding its text: the name is sliced out at
  once; `.fields` is a `FrameFields` view (fields.py) that reads single keys
  straight from the text and builds the whole dict only when iterated.
  Anything else (responses, odd frames) goes through the careful parser.
- With `AmiParser(lazy=False)` every event is materialised (and checked) inside
  `feed`, which is what a consumer that reads every field pays anyway.

Header semantics, identical on every path: a line splits at its first ":",
the key is stripped, one space after the colon is dropped, and when a key
repeats the first occurrence wins (a UserEvent may repeat Uniqueid: the first
is Asterisk's own, later ones are user supplied).

Junk from the peer never raises: a frame that cannot be parsed becomes a
`BadFrame` (with the reason) and parsing goes on with the next frame. In lazy
mode a malformed line inside an event is only seen when the fields are built:
it is skipped and counted in `ParserStats.bad_lines`. Misuse by the caller (a
CR or LF smuggled into an action) raises `LocalProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.ami.fields import FrameFields, body_fields, parse_lines

__all__ = [
    "MAX_FRAME_BYTES",
    "AmiParser",
    "BadFrame",
    "Banner",
    "Event",
    "LocalProtocolError",
    "Message",
    "ParserStats",
    "Response",
    "encode_action",
]

# Asterisk frames are a few kB at most; a peer that sends more without a blank
# line is broken or hostile, and buffering it forever would exhaust memory.
MAX_FRAME_BYTES = 64 * 1024

_TERMINATOR = b"\r\n\r\n"
_SEP = "\r\n\r\n"
_BAD_RAW_KEEP = 256  # bytes of a bad frame kept for the log line


class LocalProtocolError(ValueError):
    """The caller misused the codec (for example a CR/LF inside a field)."""


@dataclass(slots=True)
class ParserStats:
    """Counters of one parser, for logs and health checks."""

    frames: int = 0  # every frame seen, good or bad (the banner excluded)
    bad_frames: int = 0  # BadFrame messages returned (oversized included)
    oversized: int = 0
    bad_lines: int = 0  # malformed lines skipped inside lazily built events


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line, "Asterisk Call Manager/<version>"."""

    version: str


class Event:
    """An unsolicited (or list-item) event. `fields` excludes the Event line.

    Immutable. `Event(name, fields)` builds one from a mapping; the parser
    builds them from wire text and the fields dict only on first access.
    """

    __slots__ = ("_fields", "_stats", "_text", "name")

    name: str
    _text: str | None
    _fields: Mapping[str, str] | None
    _stats: ParserStats | None

    def __init__(self, name: str, fields: Mapping[str, str]) -> None:
        _set_name(self, name)
        _set_text(self, None)
        _set_fields(self, fields)
        _set_stats(self, None)

    @property
    def fields(self) -> Mapping[str, str]:
        fields = self._fields
        if fields is None:
            assert self._text is not None
            fields = FrameFields(self._text, self._stats)
            _set_fields(self, fields)
        return fields

    @property
    def action_id(self) -> str | None:
        return self.fields.get("ActionID")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Event is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.name == other.name and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]  # fields are a mapping

    def __reduce__(self) -> tuple[type[Event], tuple[str, dict[str, str]]]:
        return (Event, (self.name, dict(self.fields)))

    def __repr__(self) -> str:
        return f"Event(name={self.name!r}, fields={dict(self.fields)!r})"


# Slot descriptors write past Event.__setattr__: the parser builds events
# without the cost of a Python-level __init__.
_Setter = Callable[[Event, Any], None]
_set_name: _Setter = Event.__dict__["name"].__set__
_set_text: _Setter = Event.__dict__["_text"].__set__
_set_fields: _Setter = Event.__dict__["_fields"].__set__
_set_stats: _Setter = Event.__dict__["_stats"].__set__
_new_object = object.__new__


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


def _bad(reason: str, text: str) -> BadFrame:
    return BadFrame(reason, text[:_BAD_RAW_KEEP].encode("utf-8", "replace"))


def _careful_frame(text: str) -> Message:
    """Parse any frame, checking every line (responses and odd frames)."""
    # A stray blank line before a frame (seen from some proxies) is harmless.
    text = text.lstrip("\r\n")
    fields, bad = parse_lines(text.split("\r\n"))
    if bad is not None:
        return _bad(f"line without 'Key: Value' form: {bad[:60]!r}", text)
    name = fields.pop("Event", None)
    if name is not None:
        return Event(name, fields) if name else _bad("empty Event name", text)
    status = fields.pop("Response", None)
    if status is not None:
        return Response(status, fields)
    return _bad("frame has neither Event nor Response", text)


class AmiParser:
    """Incremental parser: `feed(bytes)` returns every message now complete.

    `feed_eof()` reports a frame left unfinished when the stream ended.
    """

    __slots__ = ("_banner_seen", "_discarding", "_lazy", "_tail", "max_frame_bytes", "stats")

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES, lazy: bool = True) -> None:
        self._tail = b""
        self._banner_seen = False
        self._discarding = False  # inside an oversized frame: skip to its end
        self._lazy = lazy
        self.max_frame_bytes = max_frame_bytes
        self.stats = ParserStats()

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes read from the socket; return every message now complete."""
        tail = self._tail
        if tail:
            buf = tail + data
            start = len(tail) - 3  # a terminator may straddle the old tail
        else:
            buf = bytes(data)
            start = 0
        out: list[Message] = []
        if not self._banner_seen:
            end = buf.find(b"\r\n")
            if end < 0:
                self._tail = buf
                if len(buf) > self.max_frame_bytes:
                    self._tail = b""
                    self._banner_seen = True
                    out.append(self._bad("banner line too long", buf))
                return out
            out.append(self._banner(buf[:end]))
            buf = buf[end + 2 :]
            start = 0
        if self._discarding:
            end = buf.find(_TERMINATOR, max(start, 0))
            if end < 0:
                self._tail = buf[-3:]
                return out
            self._discarding = False
            buf = buf[end + 4 :]
            start = 0
        end = buf.rfind(_TERMINATOR, max(start, 0))
        if end < 0:
            self._keep(buf, out)
            return out
        region = buf[: end + 4]
        rest = buf[end + 4 :]
        try:
            text = region.decode("utf-8")
        except UnicodeDecodeError:
            self._keep(self._per_frame(region, out) + rest, out)
            return out
        frames = text.split(_SEP)
        leftover = frames.pop()  # "" unless a run of blank lines
        if len(region) > self.max_frame_bytes:
            self._frames_checked(frames, text.isascii(), out)
        else:
            self._frames(frames, out)
        self._keep(leftover.encode("utf-8") + rest if leftover else rest, out)
        return out

    def feed_eof(self) -> list[Message]:
        """The stream ended: report what was left unfinished, then reset."""
        tail, discarding = self._tail, self._discarding
        self._tail, self._discarding, self._banner_seen = b"", False, False
        if discarding or not tail.strip(b"\r\n"):
            return []
        stats = self.stats
        stats.frames += 1
        stats.bad_frames += 1
        return [BadFrame("truncated frame at end of stream", tail[:_BAD_RAW_KEEP])]

    # -- internals -------------------------------------------------------------

    def _frames(self, frames: list[str], out: list[Message]) -> None:
        stats = self.stats
        stats.frames += len(frames)
        new, set_name, set_text, set_fields, set_stats = (
            _new_object,
            _set_name,
            _set_text,
            _set_fields,
            _set_stats,
        )
        append = out.append
        for text in frames:
            if text[:7] == "Event: ":
                end = text.find("\r\n")
                name = text[7:end] if end >= 0 else text[7:]
                if name:
                    event = new(Event)
                    set_name(event, name)
                    set_text(event, text)
                    set_fields(event, None)
                    set_stats(event, stats)
                    append(event)
                    continue
            if not text:
                stats.frames -= 1
                continue
            msg = _careful_frame(text)
            if type(msg) is BadFrame:
                stats.bad_frames += 1
            append(msg)
        if not self._lazy:
            self._materialise(out)

    def _materialise(self, out: list[Message]) -> None:
        stats = self.stats
        for i, msg in enumerate(out):
            if type(msg) is Event and msg._fields is None:
                assert msg._text is not None
                fields, bad = body_fields(msg._text)
                if bad is not None:
                    stats.bad_frames += 1
                    out[i] = _bad(f"line without 'Key: Value' form: {bad[:60]!r}", msg._text)
                else:
                    _set_fields(msg, fields)

    def _frames_checked(self, frames: list[str], ascii_only: bool, out: list[Message]) -> None:
        """Like `_frames`, but first turns frames over the size limit into BadFrames."""
        limit = self.max_frame_bytes
        batch: list[str] = []
        for text in frames:
            size = len(text) if ascii_only else len(text.encode("utf-8"))
            if size <= limit:
                batch.append(text)
                continue
            self._frames(batch, out)
            batch = []
            self.stats.frames += 1
            out.append(self._oversized(text.encode("utf-8")))
        self._frames(batch, out)

    def _per_frame(self, region: bytes, out: list[Message]) -> bytes:
        """Decode frame by frame (the region held invalid UTF-8); return the leftover."""
        pieces = region.split(_TERMINATOR)
        leftover = pieces.pop()
        batch: list[str] = []
        for raw in pieces:
            try:
                batch.append(raw.decode("utf-8"))
                continue
            except UnicodeDecodeError as exc:
                reason = f"invalid UTF-8 at byte {exc.start}"
            self._frames_checked(batch, False, out)
            batch = []
            self.stats.frames += 1
            out.append(self._bad(reason, raw))
        self._frames_checked(batch, False, out)
        return leftover

    def _keep(self, tail: bytes, out: list[Message]) -> None:
        # No terminator in `tail` yet; it holds at most the frame plus "\r\n\r".
        if len(tail) > self.max_frame_bytes + 3:
            self.stats.frames += 1
            out.append(self._oversized(tail))
            self._discarding = True
            tail = tail[-3:]
        self._tail = tail

    def _oversized(self, raw: bytes) -> BadFrame:
        self.stats.oversized += 1
        return self._bad(f"frame over {self.max_frame_bytes} bytes", raw)

    def _bad(self, reason: str, raw: bytes) -> BadFrame:
        self.stats.bad_frames += 1
        return BadFrame(reason, raw[:_BAD_RAW_KEEP])

    def _banner(self, line: bytes) -> Message:
        self._banner_seen = True
        text = line.decode("utf-8", "replace")
        if "/" not in text:
            return self._bad("bad banner", line)
        return Banner(text.rpartition("/")[2])


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
