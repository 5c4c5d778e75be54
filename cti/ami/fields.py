"""Header parsing for the AMI codec, and a lazy view over a frame's headers.

Strategy: building a dict of every header costs one string per key and value
(about 19 lines per Asterisk event), and most consumers read three or four of
them. `FrameFields` answers a lookup straight from the frame text with two
`str.find` calls and builds the full dict only when asked to iterate.

Every path gives the same answer as `parse_lines`, the reference: a line
splits at its first ":", the key is stripped, one space after the colon is
dropped, the first occurrence of a key wins, lines without a key are skipped.
The shortcut relies on a frame being "plain": no line starts with whitespace
and no whitespace precedes a colon. Then the key of every line is exactly the
text before its first colon, so "\\r\\nKey:" finds the first line with that
key (values never contain "\\r\\n"), and its absence proves the key absent.
A frame that is not plain, or an odd key, takes the full dict.

Costs, measured: a two-character `in` scan runs at about 1.4 ns a byte, so
plainness is decided per frame, and only for frames someone reads (deciding
it once per 64 KiB chunk scans every frame, read or not, and was slower).
"\t" alone is a memchr, so the two tab scans are skipped when it is absent.
`startswith` (a VarSet handler dropping non-CTI variables) needs no
plainness: a key that occurs once in the text can only be on its one line.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar, overload

if TYPE_CHECKING:
    from cti.ami.protocol import ParserStats

__all__ = ["FrameFields", "body_fields", "parse_lines"]

_T = TypeVar("_T")
_NEEDLES: dict[str, str] = {}  # key -> "\r\nKey:" for keys safe to search
_MAX_NEEDLES = 4096


def parse_lines(lines: Iterable[str]) -> tuple[dict[str, str], str | None]:
    """The reference: fields of `lines` and the first malformed line, if any."""
    fields: dict[str, str] = {}
    bad: str | None = None
    for line in lines:
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            if bad is None:
                bad = line
            continue
        if key not in fields:
            fields[key] = value[1:] if value[:1] == " " else value
    return fields, bad


def body_fields(text: str) -> tuple[dict[str, str], str | None]:
    """Fields of a frame's lines after the first one (the Event line)."""
    lines = text.split("\r\n")
    del lines[0]
    try:
        # The common case, all in C: canonical "Key: value" lines, no repeats.
        fields = dict([line.split(": ", 1) for line in lines])
    except ValueError:
        return parse_lines(lines)
    keys = "".join(fields)
    if len(fields) != len(lines) or "" in fields or ":" in keys or " " in keys or "\t" in keys:
        return parse_lines(lines)
    return fields, None


def _needle(key: str) -> str | None:
    needle = _NEEDLES.get(key)
    if needle is None:
        if not key or key != key.strip() or any(c in key for c in ":\r\n"):
            return None
        needle = "\r\n" + key + ":"
        if len(_NEEDLES) < _MAX_NEEDLES:
            _NEEDLES[key] = needle
    return needle


class FrameFields(Mapping[str, str]):
    """Read-only headers of one event frame (its first line excluded)."""

    __slots__ = ("_dict", "_plain", "_stats", "_text")

    def __init__(self, text: str, stats: ParserStats | None = None) -> None:
        self._text = text
        self._stats = stats
        self._dict: dict[str, str] | None = None
        self._plain: bool | None = None

    def full(self) -> dict[str, str]:
        fields = self._dict
        if fields is None:
            fields, bad = body_fields(self._text)
            if bad is not None and self._stats is not None:
                self._stats.bad_lines += 1
            self._dict = fields
        return fields

    def _is_plain(self) -> bool:
        plain = self._plain
        if plain is None:
            text = self._text
            # A two-character search costs about 1.4 ns a byte; "\t" alone is
            # a memchr, nearly free, and Asterisk frames hold no tabs.
            plain = self._plain = not (
                " :" in text
                or "\r\n " in text
                or ("\t" in text and ("\t:" in text or "\r\n\t" in text))
            )
        return plain

    def _find(self, key: str) -> str | None:
        """The value of `key`; None if absent.

        The hot path (a known key, a plain frame, no dict yet) is written out
        in full: lookups are most of the intake's work, and each Python call
        saved is measurable.
        """
        if self._dict is None:
            needle = _NEEDLES.get(key) or _needle(key)
            if needle is not None and (self._plain or self._is_plain()):
                text = self._text
                start = text.find(needle)
                if start < 0:
                    return None
                start += len(needle)
                if text[start : start + 1] == " ":
                    start += 1
                end = text.find("\r\n", start)
                return text[start:] if end < 0 else text[start:end]
        return self.full().get(key)

    def startswith(self, key: str, prefix: str) -> bool:
        """Whether `self[key].startswith(prefix)`, without slicing the value out.

        Raises KeyError if `key` is absent, like `self[key]`. Lets a consumer
        drop an uninteresting event (a VarSet of a non-CTI variable) with one
        `str.find` and one `str.startswith` on the frame text.
        """
        # A value ends at "\r\n": a prefix with CR or LF could match past it.
        if self._dict is None and "\r" not in prefix and "\n" not in prefix:
            needle = _NEEDLES.get(key) or _needle(key)
            text = self._text
            # `key` occurring once in the text is a proof of its own, cheaper
            # than plainness: any line whose stripped key is `key` contains it,
            # so the canonical line found is the only one with that key.
            if needle is not None and (text.count(key) == 1 or self._is_plain()):
                start = text.find(needle)
                if start >= 0:
                    start += len(needle)
                    if text.startswith(" ", start):
                        start += 1
                    return text.startswith(prefix, start)
                if self._is_plain():
                    raise KeyError(key)
        value = self._find(key)
        if value is None:
            raise KeyError(key)
        return value.startswith(prefix)

    def __getitem__(self, key: str) -> str:
        # `_find`'s hot path again, inline: one Python call per lookup, not two.
        if self._dict is None:
            needle = _NEEDLES.get(key)
            if needle is not None and (self._plain or self._is_plain()):
                text = self._text
                start = text.find(needle)
                if start < 0:
                    raise KeyError(key)
                start += len(needle)
                if text[start : start + 1] == " ":
                    start += 1
                end = text.find("\r\n", start)
                return text[start:] if end < 0 else text[start:end]
        value = self._find(key)
        if value is None:
            raise KeyError(key)
        return value

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, default: str, /) -> str: ...
    @overload
    def get(self, key: str, default: _T, /) -> str | _T: ...

    def get(self, key: str, default: object = None, /) -> object:
        if self._dict is None:  # `_find`'s hot path again, as in __getitem__
            needle = _NEEDLES.get(key)
            if needle is not None and (self._plain or self._is_plain()):
                text = self._text
                start = text.find(needle)
                if start < 0:
                    return default
                start += len(needle)
                if text[start : start + 1] == " ":
                    start += 1
                end = text.find("\r\n", start)
                return text[start:] if end < 0 else text[start:end]
        value = self._find(key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.full())

    def items(self) -> ItemsView[str, str]:
        # the dict's own view: Mapping's would look every key up again
        # (an IVR UserEvent walks all its headers)
        return self.full().items()

    def __len__(self) -> int:
        return len(self.full())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrameFields):
            other = other.full()
        return self.full() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrameFields({self.full()!r})"
