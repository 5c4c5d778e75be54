"""Asterisk `.conf` files and the dialplan in them, parsed for checking (pure, no I/O).

Strategy: two small layers, both text in, frozen data out.

1. `parse_conf(text)` reads the generic Asterisk config syntax: `[section]`,
   `[name](!)` templates, `[name](tpl1,tpl2)` inheritance (the templates' entries
   come first, so a later entry of the same key overrides), `[name](+)` to append
   to an earlier section, `key = value` and `key => value`, `;` comments (`\\;` is a
   literal semicolon) and `;-- ... --;` block comments. Sections of the same name
   stay separate (pjsip.conf gives endpoint, aor and auth one name).
   `#include` and `#tryinclude` splice another file in where they stand, as
   Asterisk does, through a loader the caller passes (so this module does no
   I/O itself); a missing `#include` is an error, a missing `#tryinclude` is
   skipped. With no loader, and always for `#exec`, a directive is an error: a
   checker that silently skipped one would check less than it says.
2. `Dialplan.from_conf(conf)` turns extensions.conf into priorities (`exten =>`
   and `same => n(label)`), includes, and helpers to match extension patterns,
   expand small patterns, and read Goto/GotoIf/Gosub targets and Dial-style
   interfaces (`Local/exten@context` ones as dialplan targets), so tests can
   check that every reference in the dialplan resolves.

This module knows the syntax, not our call centre: the checks live in
tests/conf/test_asterisk_conf.py.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "ConfError",
    "ConfFile",
    "Dialplan",
    "Entry",
    "GotoTarget",
    "Loader",
    "Priority",
    "Section",
    "expand_pattern",
    "goto_targets",
    "local_target",
    "match_extension",
    "parse_conf",
    "split_args",
    "substitute_exten",
]

# Sections of extensions.conf that are settings, not contexts.
_NON_CONTEXTS = frozenset({"general", "globals"})

# Resolves an #include/#tryinclude argument (as written, quotes removed) to the
# file's text, or None when there is no such file.
Loader = Callable[[str], str | None]

# An include chain deeper than this is a loop (Asterisk stops one too).
_MAX_INCLUDE_DEPTH = 10


class ConfError(ValueError):
    """The text is not valid Asterisk config syntax (or uses an unsupported directive)."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: str
    line: int
    arrow: bool  # written `key => value` rather than `key = value`
    source: str = ""  # the file the entry is written in (an included one, maybe)


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    entries: tuple[Entry, ...]  # inherited entries first, then the section's own
    templates: tuple[str, ...]  # names inherited from, in order
    is_template: bool  # declared with (!)
    line: int

    def get(self, key: str) -> str | None:
        """The last value of `key` (a later entry overrides an inherited one)."""
        for entry in reversed(self.entries):
            if entry.key == key:
                return entry.value
        return None

    def get_all(self, key: str) -> tuple[str, ...]:
        return tuple(e.value for e in self.entries if e.key == key)


@dataclass(frozen=True, slots=True)
class ConfFile:
    source: str
    sections: tuple[Section, ...]

    def named(self, name: str) -> tuple[Section, ...]:
        """Every concrete (non-template) section called `name`."""
        return tuple(s for s in self.sections if s.name == name and not s.is_template)

    def of_type(self, type_: str) -> tuple[Section, ...]:
        """Concrete sections whose `type` is `type_` (pjsip.conf, ari.conf)."""
        return tuple(s for s in self.sections if not s.is_template and s.get("type") == type_)

    def names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.sections if not s.is_template)


# --- layer 1: generic config syntax -----------------------------------------

_HEADER = re.compile(r"^\[(?P<name>[^\]]+)\]\s*(?:\((?P<opts>[^)]*)\))?\s*$")


def _strip_comments(lines: list[str], source: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without comments), handling `\\;` and `;-- --;`."""
    in_block = False
    for number, raw in enumerate(lines, start=1):
        out: list[str] = []
        i = 0
        while i < len(raw):
            if in_block:
                end = raw.find("--;", i)
                if end < 0:
                    i = len(raw)
                    continue
                in_block = False
                i = end + 3
                continue
            ch = raw[i]
            if ch == "\\" and raw.startswith(";", i + 1):
                out.append(";")
                i += 2
            elif raw.startswith(";--", i):
                in_block = True
                i += 3
            elif ch == ";":
                break
            else:
                out.append(ch)
                i += 1
        yield number, "".join(out).strip()
    if in_block:
        raise ConfError(source, len(lines), "unterminated ;-- block comment")


@dataclass(slots=True)
class _Building:
    name: str
    entries: list[Entry]
    templates: tuple[str, ...]
    is_template: bool
    line: int

    def freeze(self) -> Section:
        return Section(self.name, tuple(self.entries), self.templates, self.is_template, self.line)


def parse_conf(text: str, source: str = "<conf>", *, loader: Loader | None = None) -> ConfFile:
    """Parse one Asterisk config file. Raises ConfError with the line at fault.

    `loader` resolves `#include`/`#tryinclude`; without one they are errors.
    """
    built: list[_Building] = []
    for src, number, line in _logical_lines(text, source, loader, 0):
        if line.startswith("["):
            built.append(_header(line, number, src, built))
            continue
        if not built:
            raise ConfError(src, number, "entry before any [section]")
        eq = line.find("=")
        if eq <= 0:
            raise ConfError(src, number, f"expected `key = value`, got {line!r}")
        arrow = line.startswith(">", eq + 1)
        key = line[:eq].strip()
        value = line[eq + (2 if arrow else 1) :].strip()
        built[-1].entries.append(Entry(key, value, number, arrow, src))
    return ConfFile(source, tuple(b.freeze() for b in built))


def _logical_lines(
    text: str, source: str, loader: Loader | None, depth: int
) -> Iterator[tuple[str, int, str]]:
    """(source, line number, text) of every non-empty line, includes spliced in."""
    for number, line in _strip_comments(text.splitlines(), source):
        if not line:
            continue
        if not line.startswith("#"):
            yield source, number, line
            continue
        directive, _, argument = line.partition(" ")
        name = argument.strip().strip('"<>')
        if directive not in ("#include", "#tryinclude") or loader is None:
            raise ConfError(source, number, f"directive not supported here: {directive}")
        if not name:
            raise ConfError(source, number, f"{directive} names no file")
        if depth >= _MAX_INCLUDE_DEPTH:
            raise ConfError(source, number, f"{directive} {name}: includes nested too deep")
        included = loader(name)
        if included is None:
            if directive == "#include":
                raise ConfError(source, number, f"#include {name}: no such file")
            continue
        yield from _logical_lines(included, name, loader, depth + 1)


def _header(line: str, number: int, source: str, built: list[_Building]) -> _Building:
    m = _HEADER.match(line)
    if m is None:
        raise ConfError(source, number, f"bad section header {line!r}")
    name = m["name"].strip()
    opts = [o.strip() for o in (m["opts"] or "").split(",") if o.strip()]
    is_template = "!" in opts
    if "+" in opts:
        for earlier in reversed(built):
            if earlier.name == name:
                built.remove(earlier)  # re-appended below so new entries extend it
                return earlier
        raise ConfError(source, number, f"(+) on [{name}], which is not defined earlier")
    inherited: list[Entry] = []
    templates: list[str] = []
    for opt in opts:
        if opt == "!":
            continue
        parent = next((b for b in reversed(built) if b.name == opt), None)
        if parent is None:
            raise ConfError(source, number, f"[{name}] inherits from undefined [{opt}]")
        templates.append(opt)
        inherited.extend(parent.entries)
    return _Building(name, inherited, tuple(templates), is_template, number)


# --- layer 2: the dialplan ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Priority:
    context: str
    exten: str  # as written: `18005550155`, `_X.`, `_100[1-3]`
    number: int  # `n` resolved to the previous priority + 1
    label: str | None
    app: str
    data: str  # the application's argument text, unsplit
    line: int
    source: str = ""  # the file it is written in

    @property
    def where(self) -> str:
        """`file:line`, for messages."""
        return f"{self.source or '<conf>'}:{self.line}"


@dataclass(frozen=True, slots=True)
class GotoTarget:
    """Where a Goto/GotoIf/Gosub goes, made absolute from where it was written."""

    context: str
    exten: str
    priority: str  # a number or a label


_PRIORITY = re.compile(r"^(?P<p>\d+|n(?:\+\d+)?|hint)(?:\((?P<label>[^)]*)\))?$")


@dataclass(frozen=True, slots=True)
class Dialplan:
    contexts: frozenset[str]
    priorities: tuple[Priority, ...]
    includes: tuple[tuple[str, str], ...]  # (context, included context)

    @classmethod
    def from_conf(cls, conf: ConfFile) -> Dialplan:
        contexts: set[str] = set()
        priorities: list[Priority] = []
        includes: list[tuple[str, str]] = []
        for section in conf.sections:
            if section.name in _NON_CONTEXTS or section.is_template:
                continue
            contexts.add(section.name)
            current: str | None = None
            last = 0
            for entry in section.entries:
                if entry.key == "include":
                    includes.append((section.name, entry.value))
                    continue
                if entry.key not in ("exten", "same"):
                    continue
                if entry.key == "exten":
                    current, _, rest = entry.value.partition(",")
                    current = current.strip()
                    last = 0
                else:
                    if current is None:
                        raise ConfError(
                            entry.source or conf.source, entry.line, "`same =>` with no `exten =>`"
                        )
                    rest = entry.value
                prio_text, _, app_text = rest.partition(",")
                m = _PRIORITY.match(prio_text.strip())
                if m is None:
                    raise ConfError(
                        entry.source or conf.source, entry.line, f"bad priority {prio_text!r}"
                    )
                p = m["p"]
                if p == "hint":
                    continue
                last = number = _priority_number(p, last)
                app, data = _application(app_text.strip())
                priorities.append(
                    Priority(
                        section.name,
                        current,
                        number,
                        m["label"],
                        app,
                        data,
                        entry.line,
                        entry.source or conf.source,
                    )
                )
        return cls(frozenset(contexts), tuple(priorities), tuple(includes))

    def has_extension(self, context: str, exten: str) -> bool:
        """Can a call sent to `exten` at priority 1 of `context` start there?"""
        return self.resolve(GotoTarget(context, exten, "1")) is not None

    def in_context(self, context: str) -> tuple[Priority, ...]:
        return tuple(p for p in self.priorities if p.context == context)

    def reachable_contexts(self, context: str) -> tuple[str, ...]:
        """`context` and what it includes, transitively, in search order."""
        order: list[str] = []
        todo = [context]
        while todo:
            ctx = todo.pop(0)
            if ctx in order:
                continue
            order.append(ctx)
            todo.extend(inc for c, inc in self.includes if c == ctx)
        return tuple(order)

    def resolve(self, target: GotoTarget) -> Priority | None:
        """A priority `target` can land on, or None: the context's own extensions
        first, then its includes. Within a context this takes the first match in
        written order, where Asterisk prefers the most specific pattern; for
        checking that a target exists at all that is enough."""
        for ctx in self.reachable_contexts(target.context):
            for p in self.in_context(ctx):
                # A label-only Goto keeps the extension as written (maybe a pattern).
                if p.exten != target.exten and not match_extension(p.exten, target.exten):
                    continue
                if target.priority == str(p.number) or target.priority == p.label:
                    return p
        return None


def _priority_number(text: str, last: int) -> int:
    """`1` -> 1; `n` -> last + 1; `n+2` -> last + 3."""
    if not text.startswith("n"):
        return int(text)
    return last + 1 + (int(text[2:]) if "+" in text else 0)


def _application(text: str) -> tuple[str, str]:
    """`App(data)` -> ("App", "data"); the legacy `App,data` form is accepted too."""
    paren = text.find("(")
    if paren >= 0 and text.endswith(")"):
        return text[:paren].strip(), text[paren + 1 : -1]
    app, _, data = text.partition(",")
    return app.strip(), data


def split_args(data: str, sep: str = ",") -> list[str]:
    """Split application arguments on `sep` outside (), [], {} and double quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for ch in data:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def goto_targets(p: Priority) -> tuple[GotoTarget, ...]:
    """The destinations of a Goto, GotoIf or Gosub priority (empty for other apps)."""
    app = p.app.lower()
    if app in ("goto", "gosub"):
        texts = [p.data]
    elif app == "gotoif":
        parts = split_args(p.data, "?")
        if len(parts) < 2:
            return ()
        branches = split_args("?".join(parts[1:]), ":")
        texts = [b for b in branches if b]
    else:
        return ()
    out: list[GotoTarget] = []
    for text in texts:
        if app == "gosub" and text.endswith(")"):
            text = text[: text.index("(")]  # Gosub(ctx,exten,1(args))
        fields = split_args(text)
        if len(fields) == 1:
            out.append(GotoTarget(p.context, p.exten, fields[0]))
        elif len(fields) == 2:
            out.append(GotoTarget(p.context, fields[0], fields[1]))
        else:
            out.append(GotoTarget(fields[0], fields[1], fields[2]))
    return tuple(out)


def local_target(interface: str, context: str) -> GotoTarget | None:
    """Where a `Local/exten[@context][/options]` interface starts; None for others.

    `context` is the one a Local channel without `@context` uses (`default`
    in Asterisk; pass what applies).
    """
    tech, slash, resource = interface.partition("/")
    if not slash or tech.lower() != "local":
        return None
    exten, _, ctx = resource.split("/", 1)[0].partition("@")
    return GotoTarget(ctx or context, exten, "1")


# --- extension patterns ------------------------------------------------------

_CLASSES = {"X": "0123456789", "Z": "123456789", "N": "23456789"}


def _pattern_atoms(pattern: str) -> list[str] | None:
    """A `_` pattern as a list of character sets; None when it has `.` or `!`."""
    atoms: list[str] = []
    i = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch in ".!":
            return None
        if ch.upper() in _CLASSES:
            atoms.append(_CLASSES[ch.upper()])
        elif ch == "[":
            end = pattern.index("]", i)
            atoms.append(_char_class(pattern[i + 1 : end]))
            i = end
        else:
            atoms.append(ch)
        i += 1
    return atoms


def _char_class(body: str) -> str:
    chars: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars.extend(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.append(body[i])
            i += 1
    return "".join(dict.fromkeys(chars))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch.upper() in _CLASSES:
            out.append(f"[{_CLASSES[ch.upper()]}]")
        elif ch == "[":
            end = pattern.index("]", i)
            out.append(f"[{re.escape(_char_class(pattern[i + 1 : end]))}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


def match_extension(exten: str, dialed: str) -> bool:
    """Does the extension `exten` (literal or `_` pattern) match the number `dialed`?"""
    exten = exten.split("/", 1)[0]  # drop a caller-id match (`exten/cid`)
    if not exten.startswith("_"):
        return exten == dialed
    return _pattern_regex(exten).fullmatch(dialed) is not None


def expand_pattern(exten: str, limit: int = 1000) -> tuple[str, ...] | None:
    """Every number `exten` matches, or None when unbounded (`.`/`!`) or over `limit`."""
    exten = exten.split("/", 1)[0]
    if not exten.startswith("_"):
        return (exten,)
    atoms = _pattern_atoms(exten)
    if atoms is None:
        return None
    count = 1
    for atom in atoms:
        count *= len(atom)
        if count > limit:
            return None
    return tuple("".join(combo) for combo in itertools.product(*atoms))


_EXTEN_VAR = re.compile(r"\$\{EXTEN(?::(-?\d+)(?::(-?\d+))?)?\}")


def substitute_exten(text: str, dialed: str) -> str:
    """Replace `${EXTEN}`, `${EXTEN:offset}` and `${EXTEN:offset:length}` with `dialed`."""

    def sub(m: re.Match[str]) -> str:
        if m[1] is None:
            return dialed
        start = int(m[1])
        if m[2] is None:
            return dialed[start:]
        length = int(m[2])
        end = start + length if length >= 0 else length
        return dialed[start:end] if end != 0 else dialed[start:]

    return _EXTEN_VAR.sub(sub, text)
