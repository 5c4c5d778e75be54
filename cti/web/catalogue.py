"""The WebSocket event catalogue, generated from the code that makes the events.

Strategy: `docs/events.md` is the output of `python -m cti.web.catalogue`, and a
test compares the two, so the document cannot drift from the wire format.
Model events are documented from the real dataclasses in `cti.model.outputs`:
their fields come from `dataclasses.fields`, their examples from sample
instances passed through `to_json()` and the hub's own framing, and the JSON
type of each field from the example value. `hello` and `resync` come from the
pydantic models in `cti.web.schemas`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from cti.agentstate.commands import AGENT_COMMAND_NAMES
from cti.chat import Message
from cti.control.commands import COMMAND_NAMES, SPY_COMMANDS, parse_command
from cti.customers import CustomerFound
from cti.ids import CallId, ChannelId, Interface, QueueName
from cti.metrics import QueueBoard, QueueMetrics
from cti.model.outputs import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallLeg,
    IvrStep,
    QueueUpdated,
    RingAttempt,
    RingEnded,
    ScreenPop,
)
from cti.web.chat_presence import presence_event
from cti.web.control import COMMAND_ROUTES, MAX_IN_FLIGHT
from cti.web.hub import encode, frame
from cti.web.routes_agents import AGENT_ROUTES
from cti.web.schemas import (
    CommandErrorDetail,
    CommandResultEvent,
    HelloEvent,
    ResyncEvent,
    UserSchema,
)

__all__ = ["render"]

_STREAM = "5f1c2a9d03be"
_T0 = 1_764_331_200.0  # 2025-11-28 12:00:00 UTC: fixed so the document is stable

_ALICE = Interface("PJSIP/1001")
_BOB = Interface("PJSIP/1002")
_CALL = CallId("1764331200.41")
_SUPPORT = QueueName("support")
_IVR = (
    IvrStep("welcome", (), _T0 + 1.0),
    IvrStep("menu", (("Choice", "1"),), _T0 + 4.2),
    IvrStep("account", (("Account", "23456"),), _T0 + 9.8),
)
_VARIABLES = (("CTI_ACCOUNT", "23456"), ("CTI_DNIS", "18005550100"), ("CTI_MENU", "1"))
_CUSTOMER = {"id": 7, "name": "José Álvarez", "account": "23456", "notes": "Prefers email."}

_POP = ScreenPop(
    call_id=_CALL,
    interface=_ALICE,
    agent_channel=ChannelId("1764331200.47"),
    caller_number="15551230001",
    caller_name="José Álvarez",
    dialed_number="18005550100",
    queue=_SUPPORT,
    waited_seconds=6.4,
    ivr_path=_IVR,
    variables=_VARIABLES,
    account="23456",
    at=_T0 + 16.4,
    member_name="Alice Agent",
)
_ANSWERED = CallAnswered(call_id=_CALL, interface=_ALICE, recipients=(_BOB, _ALICE), at=_T0 + 19.0)
_RING_ENDED = RingEnded(
    call_id=_CALL,
    interface=_BOB,
    agent_channel=ChannelId("1795860142.1"),
    reason="no_answer",
    at=_T0 + 17.0,
)
_ENDED = CallEnded(
    call_id=_CALL,
    outcome="answered",
    caller_number="15551230001",
    caller_name="José Álvarez",
    dialed_number="18005550100",
    queue=_SUPPORT,
    answered_by=_ALICE,
    parties=(_ALICE,),
    recipients=(_BOB, _ALICE),
    ivr_path=_IVR,
    variables=_VARIABLES,
    account="23456",
    started_at=_T0,
    answered_at=_T0 + 19.0,
    ended_at=_T0 + 95.5,
    wait_seconds=9.0,
    talk_seconds=76.5,
    ring_no_answer=(_BOB,),
    legs=(
        CallLeg(
            ChannelId("1764331200.41"),
            "PJSIP/pstn-00000029",
            "caller",
            None,
            "15551230001",
            "José Álvarez",
            _T0,
            _T0 + 0.5,
            _T0 + 95.5,
        ),
        CallLeg(
            ChannelId("1795860142.1"),
            "PJSIP/1002-0000002a",
            "agent",
            _BOB,
            "1002",
            "Bob",
            _T0 + 10.0,
            None,
            _T0 + 17.0,
        ),
        CallLeg(
            ChannelId("1795860142.2"),
            "PJSIP/1001-0000002b",
            "agent",
            _ALICE,
            "1001",
            "Alice",
            _T0 + 18.0,
            _T0 + 19.0,
            _T0 + 95.5,
        ),
    ),
    ring_attempts=(
        RingAttempt(_BOB, ChannelId("1795860142.1"), _SUPPORT, _T0 + 10.0, _T0 + 17.0, "no_answer"),
        RingAttempt(
            _ALICE, ChannelId("1795860142.2"), _SUPPORT, _T0 + 18.0, _T0 + 19.0, "answered"
        ),
    ),
)
_AGENT = AgentStateChanged(
    interface=_ALICE,
    name="Alice",
    state="paused",
    reason="lunch",
    queues=(_SUPPORT, QueueName("sales")),
    at=_T0 + 120.0,
    since=_T0 + 120.0,
)
_QUEUE = QueueUpdated(
    queue=_SUPPORT, waiting=2, longest_wait_since=_T0 + 100.0, members=(_ALICE, _BOB), at=_T0 + 121
)


def _chat_at(offset: float) -> datetime:
    return datetime.fromtimestamp(_T0 + offset, UTC)


_USER = UserSchema(login="alice", display_name="Alice", role="agent", interface=_ALICE)


def _sample_board() -> QueueBoard:
    """The board of `support` after the sample events above, 5 s after the last."""
    metrics = QueueMetrics()
    metrics.apply_all([_QUEUE, _AGENT, _ENDED])
    return metrics.board(_SUPPORT, _T0 + 125.0)


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    type: str
    audience: str
    summary: str
    fields: tuple[tuple[str, str, str], ...]  # (name, JSON type, description)
    example: Mapping[str, Any]


_ENVELOPE = (
    ("seq", "integer", "position in the user's stream: 1, 2, 3… with no gaps"),
    ("stream_id", "string", "epoch of the server run that numbered `seq`"),
)

_DOCS: dict[str, str] = {
    "call_id": "the call (Asterisk Linkedid); every event about a call carries it",
    "interface": "agent device, e.g. PJSIP/1001",
    "agent_channel": "Uniqueid of the channel ringing the agent",
    "caller_number": "caller id number",
    "caller_name": "caller id name (untrusted text: render it as text, never as HTML)",
    "dialed_number": "number the caller dialed",
    "queue": "queue the call came through, null for direct calls",
    "waited_seconds": "seconds the caller waited in the queue before this ring",
    "ivr_path": "IVR steps in order: {step, values, at}",
    "variables": "the call's CTI_* channel variables",
    "account": "account number entered in the IVR, if any",
    "customer_id": "customer id the data dip found (CTI_CUSTOMER_ID), if any",
    "at": "when it happened (epoch seconds)",
    "member_name": "queue member name of the agent",
    "late": "true when the ring happened while the AMI link was down (pop sent after resync)",
    "customer": "customer record found by customer_id, account or caller number, else null",
    "customer_pending": "true when the look-up was still running: a call_customer event follows",
    "lookup_failed": "true when the database could not be asked (not the same as no record)",
    "recipients": "agents that were popped for the call",
    "outcome": "answered, abandoned, unanswered or failed",
    "answered_by": "interface that answered, null if nobody",
    "parties": "device interfaces that took part",
    "started_at": "call start (epoch seconds)",
    "answered_at": "answer time (epoch seconds), null if unanswered",
    "ended_at": "hang-up time (epoch seconds)",
    "wait_seconds": "queue wait until answer or abandon",
    "talk_seconds": "time from answer to hang-up",
    "ring_no_answer": "agents that rang without answering",
    "legs": "every channel of the call, in order: {channel, name, role (caller, agent, "
    "dialed, originate, other), interface, party_number, party_name, started_at, "
    "answered_at, ended_at}",
    "ring_attempts": "each agent rung for the call, by ring start: {interface, channel, "
    "queue, rang_at, ended_at, result: answered, no_answer (ring-no-answer) or cancelled}",
    "transfers": "successful transfers: {kind: blind or attended, at, from_interface, "
    "to_interface (attended), to_extension (blind)}",
    "duration_seconds": "ended_at - started_at",
    "name": "agent name",
    "state": "logged_out, available, ringing, on_call, wrap_up or paused",
    "reason": "pause reason, null when not paused",
    "since": "when the agent entered this state and reason (epoch seconds)",
    "queues": "queues the agent is a member of",
    "waiting": "callers waiting now",
    "longest_wait_since": "join time of the oldest waiting caller (epoch seconds), or null",
    "members": "member interfaces",
    "type": "event name",
    "ended_by_resync": "true when the hang-up was not seen but inferred from an AMI resync",
    "user": "the authenticated user: login, display_name, role, interface",
    "stream_id": "epoch of this server run",
}
_DOCS_BY_TYPE: dict[tuple[str, str], str] = {
    ("queue_state", "queue"): "queue name",
    ("call_answered", "interface"): "interface that answered",
    ("ring_ended", "reason"): "no_answer, answered_elsewhere or cancelled",
    ("ring_ended", "interface"): "agent whose phone stopped ringing",
    ("queue_board", "queue"): "queue name",
    ("queue_board", "at"): "when the board was computed (epoch seconds)",
    ("queue_board", "definition"): "the formulas in use: service level formula and T, "
    "short-abandon threshold, daily reset time and time zone (docs/metrics.md)",
    ("queue_board", "longest_wait_seconds"): "age of the oldest waiting caller at `at`, or null",
    ("queue_board", "agents"): "members by state: every state, with 0 when nobody is in it",
    ("queue_board", "pause_reasons"): "paused members by pause reason",
    ("queue_board", "today"): "counters and figures since the queue's daily reset "
    "(window fields: docs/metrics.md)",
    ("queue_board", "last_15_min"): "the same over the last 15 minutes (sliding)",
    ("queue_board", "last_60_min"): "the same over the last 60 minutes (sliding)",
}


def _json_type(value: object, annotation: str = "") -> str:
    match value:
        case bool():
            kind = "boolean"
        case int():
            kind = "integer"
        case float():
            kind = "number"
        case str():
            kind = "string"
        case list() | tuple():
            kind = "array"
        case dict():
            kind = "object"
        case _:
            kind = "null"
    return f"{kind} or null" if "None" in annotation and kind != "null" else kind


def _model_entry(
    output: Any, audience: str, summary: str, extra: Mapping[str, Any] | None = None
) -> _Entry:
    payload = output.to_json()
    payload.update(extra or {})
    annotations = {f.name: str(f.type) for f in dataclasses.fields(output)}
    annotations["customer"] = "dict | None"
    rows = [("type", "string", _DOCS["type"])]
    rows += [
        (
            name,
            _json_type(value, annotations.get(name, "")),
            _DOCS_BY_TYPE.get((output.type, name), _DOCS.get(name, "")),
        )
        for name, value in payload.items()
        if name != "type"
    ]
    example = json.loads(frame(3, _STREAM, encode(payload)))
    return _Entry(output.type, audience, summary, (*_ENVELOPE, *rows), example)


def _schema_entry(model: BaseModel, audience: str, summary: str) -> _Entry:
    rows = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        annotation = str(info.annotation)
        kind = "object" if isinstance(value, BaseModel) else _json_type(value, annotation)
        description = info.description or _DOCS.get(name, "")
        if name == "reason" and isinstance(model, ResyncEvent):
            description = "since_too_old, stream_changed or since_ahead"
        rows.append((name, kind, description))
    example = model.model_dump()
    return _Entry(str(example["type"]), audience, summary, tuple(rows), example)


def _entries() -> list[_Entry]:
    return [
        _schema_entry(
            HelloEvent(user=_USER, stream_id=_STREAM, seq=2, replaying=1),
            "every connection, first frame",
            "Who you are and where your stream stands. Not numbered: it carries the "
            "current `seq` without consuming one. `replaying` missed events follow it.",
        ),
        _schema_entry(
            ResyncEvent(stream_id=_STREAM, seq=42, reason="since_too_old"),
            "a connection whose `since` cannot be honoured",
            "The events after your `since` are gone (older than the replay window, or "
            "numbered by a previous server run). Reload the REST snapshots "
            "(`/api/calls`, …), then continue from `seq`: live events follow.",
        ),
        _model_entry(
            _POP,
            "the agent(s) whose interface is ringing, every open tab",
            "A call rings the agent's device: everything known about the caller.",
            {"customer": _CUSTOMER, "customer_pending": False},
        ),
        _model_entry(
            CustomerFound(_CALL, _ALICE, _CUSTOMER),
            "the agent of a pop sent with `customer_pending: true`",
            "The customer look-up that pop went out without has finished: fill the card in "
            "(`customer` is null when no record matches).",
        ),
        _model_entry(
            _ANSWERED,
            "every agent popped for the call",
            "The call was answered; `interface` says by whom (close the pop elsewhere).",
        ),
        _model_entry(
            _RING_ENDED,
            "the agent whose phone stopped ringing",
            "The agent's phone stopped ringing without them answering: the queue moved "
            "on (`no_answer`), someone else answered, or the caller hung up.",
        ),
        _model_entry(
            _ENDED,
            "every agent popped for the call; the supervisors of its queue or of a team "
            "one of its parties is in; admins",
            "The call is over. This is also the call record written to the database.",
            {"customer": _CUSTOMER},
        ),
        _model_entry(
            _AGENT,
            "the agent themselves; the supervisors of their team or of one of their queues; admins",
            "An agent's work state changed (or their queues did).",
        ),
        _model_entry(
            _QUEUE,
            "the supervisors of the queue, and admins",
            "A queue's waiting callers changed. Sent with the queue's `queue_board`, just "
            "before it, and merged like it: at most 4 per second per queue, the latest state.",
        ),
        _model_entry(
            _sample_board(),
            "the supervisors whose scope holds the queue, and admins; never agents",
            "A queue's live board changed (a call joined, left or ended, a member's state "
            "changed). At most 4 per second per queue: the first change is sent at once "
            "(with the other events Asterisk reported with it), later ones within 250 ms "
            "are merged into one board sent when the 250 ms are over (the latest state is "
            "always sent). `agent_state` to supervisors is limited the same way per agent. "
            "Snapshot: `GET /api/queues/metrics`.",
        ),
        _schema_entry(
            CommandResultEvent(
                id="c1",
                ok=False,
                command="hold",
                error=CommandErrorDetail(
                    code="not_your_call", message="your phone is not on call 1764331200.41"
                ),
            ),
            "the socket that sent the `command` (see Commands)",
            "The answer to a `command` message. Not numbered. When `ok` is true, "
            "`error` is null and `call_id`, `sent` and `message` say what was done.",
        ),
        *_chat_entries(),
    ]


_CHAT_MESSAGE = Message(7, 12, "alice", "Can you take the call from José? <3", _chat_at(30.0))


def _chat_entry(
    payload: dict[str, Any],
    audience: str,
    summary: str,
    rows: tuple[tuple[str, str, str], ...],
    *,
    numbered: bool = True,
) -> _Entry:
    example = json.loads(frame(44, _STREAM, encode(payload))) if numbered else payload
    fields = ((*_ENVELOPE,) if numbered else ()) + (("type", "string", _DOCS["type"]), *rows)
    return _Entry(str(payload["type"]), audience, summary, fields, example)


def _chat_entries() -> list[_Entry]:
    """Chat events (cti.chat, cti.web.chat_socket); the protocol is docs/chat.md."""
    conv = ("conversation", "integer", "the conversation id")
    item = _CHAT_MESSAGE.to_json()
    return [
        _chat_entry(
            _CHAT_MESSAGE.to_event(),
            "every member of the conversation (the sender's tabs too)",
            "A chat message, sent after it was stored. `message.seq` numbers it within "
            "its conversation (no gaps): a jump means missed messages, ask `chat_resume`.",
            (
                (
                    "message",
                    "object",
                    "{conversation, seq, from, text, at, client_id}: `text` is untrusted "
                    "plain text, render it as text; `at` is ISO 8601; `client_id` is the "
                    "sender's own id for it, or null",
                ),
            ),
        ),
        _chat_entry(
            {"type": "chat_typing", "conversation": 7, "from": "bob"},
            "the other members",
            "Someone is typing (not stored; show it for a few seconds).",
            (conv, ("from", "string", "login of who is typing")),
        ),
        _chat_entry(
            {"type": "chat_read", "conversation": 7, "login": "bob", "read_seq": 12},
            "the other members",
            "A member has read the conversation up to `read_seq` (stored).",
            (conv, ("login", "string", "the reader"), ("read_seq", "integer", "read up to")),
        ),
        _chat_entry(
            {"type": "chat_delivered", "conversation": 7, "login": "bob", "delivered_seq": 12},
            "the other members",
            "A member's client has received the conversation up to `delivered_seq` (stored).",
            (
                conv,
                ("login", "string", "the receiver"),
                ("delivered_seq", "integer", "received up to"),
            ),
        ),
        _chat_entry(
            presence_event("bob", "paused"),
            "the other members of the conversations `login` is in (as REST shows it)",
            "Someone's chat presence changed: sent on each change only (socket opened or "
            "closed, agent state), not repeated. Start from `members[].presence` of "
            "`GET /api/chat/conversations`.",
            (
                ("login", "string", "whose presence"),
                (
                    "presence",
                    "string",
                    "offline (no socket open), online (no phone), or the agent state: "
                    "available, ringing, on_call, wrap_up, paused, logged_out",
                ),
            ),
        ),
        _chat_entry(
            {"type": "chat_ack", "id": "c1", "conversation": 7, "seq": 12, "at": item["at"]},
            "the socket that sent the `chat_send`",
            "Your message is stored with this `seq`. Not numbered.",
            (
                ("id", "string", "the `id` of your chat_send"),
                conv,
                ("seq", "integer", "the message's seq in the conversation"),
                ("at", "string", "when it was stored (ISO 8601)"),
            ),
            numbered=False,
        ),
        _chat_entry(
            {
                "type": "chat_error",
                "id": "c1",
                "code": "not_member",
                "status": 403,
                "message": "you are not a member of this conversation",
            },
            "the socket that sent the chat request",
            "A chat request was refused; nothing was stored. Not numbered.",
            (
                ("id", "string or null", "the `id` of your request"),
                (
                    "code",
                    "string",
                    "invalid, too_long, not_member, not_allowed, not_found, rate_limited "
                    "or unavailable",
                ),
                ("status", "integer", "the HTTP status REST would answer"),
                ("message", "string", "what was wrong (never echoes your text)"),
            ),
            numbered=False,
        ),
        _chat_entry(
            {
                "type": "chat_history",
                "id": "r1",
                "conversation": 7,
                "messages": [item],
                "more": False,
            },
            "the socket that sent the `chat_resume`",
            "The stored messages after your `after_seq`, oldest first. Not numbered.",
            (
                ("id", "string or null", "the `id` of your chat_resume"),
                conv,
                ("messages", "array", "as in `chat_message`"),
                ("more", "boolean", "true: ask again after the last seq"),
            ),
            numbered=False,
        ),
    ]


_INTRO = """\
# WebSocket events

<!-- Generated by `python -m cti.web.catalogue > docs/events.md`. Do not edit by hand:
     tests/web/test_web_catalogue.py fails when this file and the code disagree. -->

## Connecting

    GET /ws?token=<token>[&since=<seq>&stream_id=<stream_id>]

* `token` comes from `POST /api/login` (browsers cannot set headers on a WebSocket,
  so it is a query parameter; it is short-lived and re-checked against the user
  directory on every connection).
* The client may send call-control `command` messages (see "Commands" below)
  and `chat_*` messages (docs/chat.md); anything else it sends is ignored.
* Each user has one numbered stream shared by all their tabs. Every numbered event
  carries `seq` (1, 2, 3…, per user) and `stream_id` (the server run). The server
  keeps the last events of each user (the replay window, 1000 by default) even
  while they are offline, from their login on.
* To resume, reconnect with `since` = the last `seq` you processed and its
  `stream_id`: you receive `hello`, then exactly the events after `since`, in
  order, then live events. If that is impossible you receive `hello`, `resync`,
  then live events. Without `since` you receive `hello` then live events only
  (after login, pass the `stream` position from the login response to miss
  nothing).
* Ignore any event whose `seq` is not above the last one you processed.

Close codes:

| code | meaning | what to do |
|------|---------|------------|
| 4401 | bad token: missing, invalid, expired (also mid-session) or unknown user | log in |
| 4400 | malformed `since` | fix the client |
| 4429 | the client read too slowly and its send queue overflowed | reconnect with `since` |
| 1001 | server shutting down | reconnect with `since`, with backoff |

## Events

| type | sent to | |
|------|---------|---|
"""


_COMMANDS_INTRO = """
## Commands

Call controls, the same as the REST routes under `/api/calls` (see `/docs`). Send

```json
{{"type": "command", "id": "c1", "command": "hangup", "call_id": "1764331200.41"}}
```

with the command's fields next to `command`. `id` (1-64 letters, digits, `_ . : -`)
is yours; the answer is a `command_result` with the same `id`, on the same socket
only. Results are not numbered events: they carry no `seq`, are not replayed after
a reconnect and other tabs do not see them; what a command changes reaches every
tab as the usual events. At most {in_flight} commands may be running per socket.
Every field is checked before anything is sent to Asterisk (`invalid` otherwise,
naming the fields); the user is re-read for each command, as on REST.

| command | fields | REST | who |
|---------|--------|------|-----|
"""


def _pattern(command: str, name: str) -> str:
    model = type(parse_command(_sample(command)))
    return str(model.model_json_schema()["properties"][name]["pattern"])


def _sample(command: str) -> dict[str, str]:
    values = {"number": "5551234", "target": "1002", "digits": "1"}
    data = {"command": command, **{f: values[f] for f in COMMAND_ROUTES[command][1]}}
    if command != "dial":
        data["call_id"] = "1.1"
    return data


def _commands() -> str:
    out = [_COMMANDS_INTRO.format(in_flight=MAX_IN_FLIGHT)]
    for command in COMMAND_NAMES:
        path, body = COMMAND_ROUTES[command]
        fields = ([] if command == "dial" else ["`call_id`"]) + [
            f"`{f}` (`{_pattern(command, f)}`)" for f in body
        ]
        who = (
            "supervisors (calls of their queues or their teams' agents) and admins"
            if command in SPY_COMMANDS
            else (
                "the user's own phone"
                if command == "dial"
                else "agents on their calls; supervisors on calls of their queues or teams"
            )
        )
        out.append(f"| `{command}` | {', '.join(fields)} | `POST {path}` | {who} |\n")
    out.append(
        "\nError codes: `invalid` (422), `not_your_call` (403), `call_gone` (404), "
        "`asterisk_refused` (502, `message` is Asterisk's), `not_connected` (503), "
        "`timeout` (504).\n"
    )
    out.append(_agent_commands())
    return "".join(out)


_AGENT_WHO = {
    "agent_login": "yourself; supervisors: agents, into their queues; admins: anyone",
    "agent_logout": "yourself; supervisors: agents, out of their queues; admins: anyone",
}


def _agent_commands() -> str:
    """The agent-state commands (cti.agentstate), from their models and routes."""
    out = [
        "\n### Agent-state commands\n\n"
        "Same message shape; `agent` is the login acted on (default `me`). The result "
        "carries `agent` instead of `call_id`. Pause reasons: `GET /api/agents/pause-reasons`.\n\n"
        "| command | fields | REST equivalent | who may |\n|---|---|---|---|\n"
    ]
    for command in AGENT_COMMAND_NAMES:
        path, body = AGENT_ROUTES[command]
        fields = ", ".join(["`agent`", *(f"`{f}`" for f in body)])
        who = _AGENT_WHO.get(
            command, "yourself; supervisors: agents of their queues; admins: anyone"
        )
        out.append(f"| `{command}` | {fields} | `POST {path}` | {who} |\n")
    out.append(
        "\nError codes: `invalid` (422: a field, a pause reason not in the list, or the "
        "agent's state), `not_allowed` (403), `not_found` (404: agent or queue), "
        "`asterisk_refused` (502), `not_connected` (503), `timeout` (504).\n"
    )
    return "".join(out)


def render() -> str:
    entries = _entries()
    out = [_INTRO]
    out += [f"| [`{e.type}`](#{e.type}) | {e.audience} | {e.summary} |\n" for e in entries]
    for e in entries:
        out.append(f"\n### {e.type}\n\n{e.summary}\n\nSent to: {e.audience}.\n\n")
        out.append("| field | JSON type | description |\n|-------|-----------|-------------|\n")
        out += [f"| `{name}` | {kind} | {doc} |\n" for name, kind, doc in e.fields]
        example = json.dumps(e.example, indent=2, ensure_ascii=False)
        out.append(f"\nExample:\n\n```json\n{example}\n```\n")
    out.append(_commands())
    return "".join(out)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
