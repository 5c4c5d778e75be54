"""Call history at the web edge: search, one call, CSV export, dispositions,
per-agent daily stats (cti.history behind it).

Strategy: thin routes over `HistoryService`; they only parse the query string
(dates, numbers) and turn `HistoryError` into its status with the JSON body
call control uses for failures (`ok: false`, `error: {code, message,
fields}`), so a 422 always names the field. The scope (whose calls) comes from
the signed-in user, never from the filters. The CSV export is streamed page by
page, every cell CSV-injection safe (cti.history.export).

    GET /api/history?number=&agent=&queue=&from=&to=&outcome=&limit=&offset=
    GET /api/history/{call_id}
    GET /api/history.csv?...                     same filters, every match
    PUT /api/calls/{call_id}/disposition        {"code": "resolved", "notes": "..."}
    GET /api/history/dispositions               the codes agents may choose
    GET /api/agents/{login}/daily?date=YYYY-MM-DD

The disposition is also a WebSocket command (cti.web.control dispatches it
here): {"type": "command", "id": "...", "command": "set_disposition",
"call_id": "...", "code": "resolved", "notes": "..."} -> `command_result`.

`from`/`to`: a date (YYYY-MM-DD, UTC midnight) or an ISO 8601 date-time with an
offset; `to` is exclusive. `agent`: a login or an interface ("PJSIP/1001").
Who may: agents their own calls (taken part in or rung for) and their own day;
supervisors also the calls of their queues and the days of their queues'
agents; admins everything.
"""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cti.history import HistoryError, HistoryFilter, HistoryService, Scope, Viewer
from cti.history.export import csv_chunks
from cti.web.ports import User
from cti.web.schemas import CommandErrorDetail, CommandResultEvent

__all__ = [
    "SET_DISPOSITION",
    "DispositionBody",
    "SetDispositionCommand",
    "history_router",
    "run_disposition_command",
    "viewer_of",
]

SET_DISPOSITION = "set_disposition"
_CALL_ID_PATTERN = r"^[\w.\-]+$"

_TAGS: list[str | Enum] = ["call history"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "not a call (or agent) of yours or of your queues"},
    404: {"description": "no such call or agent"},
    422: {"description": "a field is invalid (named in error.fields)"},
    503: {"description": "history is not available"},
}
CallIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=_CALL_ID_PATTERN)]
LoginPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.@\-]+$")]


class DispositionBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(max_length=64, description="one of GET /api/history/dispositions")
    notes: str = Field(default="", description="free text, at most 2000 characters")


class SetDispositionCommand(BaseModel):
    """The WebSocket form of PUT /api/calls/{call_id}/disposition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: Literal["set_disposition"]
    call_id: str = Field(min_length=1, max_length=64, pattern=_CALL_ID_PATTERN)
    code: str = Field(max_length=64)
    notes: str = ""


_WS_CODES: dict[str, Literal["invalid", "not_allowed", "not_found", "not_connected"]] = {
    "invalid": "invalid",
    "not_allowed": "not_allowed",
    "not_found": "not_found",
}


def _ws_failure(ref: str | None, error: HistoryError) -> CommandResultEvent:
    detail = CommandErrorDetail(
        code=_WS_CODES.get(error.code, "not_connected"),
        message=error.message,
        fields=list(error.fields),
    )
    return CommandResultEvent(id=ref, ok=False, command=SET_DISPOSITION, error=detail)


async def run_disposition_command(
    history: HistoryService | None, user: User, fields: Mapping[str, Any], ref: str | None
) -> CommandResultEvent:
    """A WebSocket `command_result` for one `set_disposition` command."""
    try:
        command = SetDispositionCommand.model_validate(dict(fields))
    except ValidationError as exc:
        names = list(dict.fromkeys(".".join(str(p) for p in e["loc"]) for e in exc.errors()))
        return _ws_failure(ref, HistoryError("invalid", "invalid set_disposition", tuple(names)))
    if history is None:
        return _ws_failure(ref, _unavailable())
    try:
        await history.set_disposition(viewer_of(user), command.call_id, command.code, command.notes)
    except HistoryError as exc:
        return _ws_failure(ref, exc)
    return CommandResultEvent(id=ref, ok=True, command=SET_DISPOSITION, call_id=command.call_id)


def viewer_of(user: User) -> Viewer:
    return Viewer(user.login, user.role, user.interface, user.queues, user.team_interfaces)


def _failure(error: HistoryError) -> JSONResponse:
    body = {
        "ok": False,
        "error": {"code": error.code, "message": error.message, "fields": list(error.fields)},
    }
    return JSONResponse(body, status_code=error.http_status)


def _unavailable() -> HistoryError:
    return HistoryError("unavailable", "call history is not available")


def parse_bound(text: str | None, field: str) -> datetime | None:
    """A date (UTC midnight) or an ISO date-time with an offset; HistoryError if neither."""
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        found = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(
            "invalid", f"{field} must be YYYY-MM-DD or an ISO 8601 date-time", (field,)
        ) from None
    if found.tzinfo is None:
        raise HistoryError("invalid", f"{field} needs a UTC offset (e.g. Z)", (field,))
    return found.astimezone(UTC)


def history_router(current_user: Any, history: HistoryService | None) -> APIRouter:
    """The history routes; without `history` they answer 503."""
    router = APIRouter(tags=_TAGS)
    Me = Annotated[User, current_user]  # noqa: N806 (a type alias)

    def service() -> HistoryService:
        if history is None:
            raise _unavailable()
        return history

    async def build_filter(
        number: str | None,
        agent: str | None,
        queue: str | None,
        start: str | None,
        end: str | None,
        outcome: str | None,
        limit: int,
        offset: int,
    ) -> HistoryFilter:
        lower, upper = parse_bound(start, "from"), parse_bound(end, "to")
        if lower is not None and upper is not None and upper <= lower:
            raise HistoryError("invalid", "to must be after from", ("to",))
        interface = await service().agent_interface(agent) if agent else None
        return HistoryFilter(
            scope=Scope(),  # the service sets the user's
            number=number or None,
            agent=interface,
            queue=queue or None,
            start=lower,
            end=upper,
            outcome=outcome or None,
            limit=limit,
            offset=offset,
        )

    Number = Annotated[str | None, Query(max_length=64, description="part of a number")]  # noqa: N806
    Agent = Annotated[str | None, Query(max_length=128, description="login or interface")]  # noqa: N806
    Queue = Annotated[str | None, Query(max_length=128)]  # noqa: N806
    From = Annotated[str | None, Query(alias="from", max_length=40)]  # noqa: N806
    To = Annotated[str | None, Query(alias="to", max_length=40)]  # noqa: N806
    Outcome = Annotated[str | None, Query(max_length=32)]  # noqa: N806
    Limit = Annotated[int, Query(ge=0, le=1000)]  # noqa: N806
    Offset = Annotated[int, Query(ge=0)]  # noqa: N806

    @router.get("/api/history", name="history_search", responses=_ERRORS)
    async def search(
        user: Me,
        number: Number = None,
        agent: Agent = None,
        queue: Queue = None,
        start: From = None,
        end: To = None,
        outcome: Outcome = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Response:
        """Finished calls you may see, newest first, with legs, rings, transfers, disposition."""
        try:
            f = await build_filter(number, agent, queue, start, end, outcome, limit, offset)
            found = await service().search(viewer_of(user), f)
        except HistoryError as exc:
            return _failure(exc)
        body = {"calls": [e.to_json() for e in found], "limit": limit, "offset": offset}
        return JSONResponse(body)

    @router.get("/api/history.csv", name="history_csv", responses=_ERRORS)
    async def export(
        user: Me,
        number: Number = None,
        agent: Agent = None,
        queue: Queue = None,
        start: From = None,
        end: To = None,
        outcome: Outcome = None,
    ) -> Response:
        """The same search as CSV (every match, streamed; formula-like cells quoted)."""
        try:
            f = await build_filter(number, agent, queue, start, end, outcome, 0, 0)
            entries = service().export(viewer_of(user), f)
            first = await anext(aiter(entries), None)  # fail here, not mid-stream
        except HistoryError as exc:
            return _failure(exc)

        async def rows() -> Any:
            if first is not None:
                yield first
                async for entry in entries:
                    yield entry

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            csv_chunks(rows()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="history-{stamp}.csv"'},
        )

    @router.get("/api/history/dispositions", name="disposition_codes")
    async def codes(user: Me) -> dict[str, list[str]]:
        """The disposition codes agents may set."""
        return {"codes": list(history.codes) if history is not None else []}

    @router.get("/api/history/{call_id}", name="history_entry", responses=_ERRORS)
    async def one(call_id: CallIdPath, user: Me) -> Response:
        """One finished call, if you may see it."""
        try:
            found = await service().entry(viewer_of(user), call_id)
        except HistoryError as exc:
            return _failure(exc)
        return JSONResponse(found.to_json())

    @router.put("/api/calls/{call_id}/disposition", name="set_disposition", responses=_ERRORS)
    async def set_disposition(call_id: CallIdPath, body: DispositionBody, user: Me) -> Response:
        """Set the call's disposition and notes (live or finished; the last one wins)."""
        try:
            saved = await service().set_disposition(viewer_of(user), call_id, body.code, body.notes)
        except HistoryError as exc:
            return _failure(exc)
        return JSONResponse({"ok": True, "call_id": call_id, **saved.to_json()})

    @router.get("/api/agents/{login}/daily", name="agent_daily", responses=_ERRORS)
    async def daily(
        login: LoginPath,
        user: Me,
        day: Annotated[str | None, Query(alias="date", max_length=10)] = None,
    ) -> Response:
        """One agent's day (UTC): calls handled, talk, AHT, wrap-up, ring-no-answers,
        time in each state. `login` may be `me`; `date` defaults to today."""
        try:
            if day and len(day) != 10:
                raise HistoryError("invalid", "date must be YYYY-MM-DD", ("date",))
            parsed = parse_bound(day, "date") if day else None
            when = parsed.date() if parsed is not None else datetime.now(UTC).date()
            if when > datetime.now(UTC).date() + timedelta(days=1):
                raise HistoryError("invalid", "date is in the future", ("date",))
            who = user.login if login == "me" else login
            stats = await service().daily(viewer_of(user), who, when)
        except HistoryError as exc:
            return _failure(exc)
        return JSONResponse({"login": who, "date": when.isoformat(), **stats.to_json()})

    return router
