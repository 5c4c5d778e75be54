"""Team repository: teams, their agents, the supervisors who look after them.

Strategy: plain async functions over an open session, like agents.py; `Store`
owns the transaction. What the web layer needs per request is one read,
`team_scope(login)`: the teams a user looks after and the devices of the
agents in them (two small indexed queries), handed out as a frozen record.
Writes are idempotent so the demo seed can run on every start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.tables import Agent, SupervisorTeamRow, TeamMemberRow, TeamRow

__all__ = [
    "TeamRecord",
    "TeamScope",
    "add_supervisor_teams",
    "ensure_team",
    "list_teams",
    "put_in_team",
    "team_scope",
]


@dataclass(frozen=True, slots=True)
class TeamScope:
    """The teams a user looks after and the interfaces of those teams' agents."""

    teams: tuple[str, ...] = ()  # sorted
    interfaces: tuple[str, ...] = ()  # sorted, agents without a device left out
    team: str | None = None  # the team the user is a member of, if any


@dataclass(frozen=True, slots=True)
class TeamRecord:
    name: str
    members: tuple[str, ...]  # logins, sorted
    supervisors: tuple[str, ...]  # logins, sorted


async def ensure_team(session: AsyncSession, name: str) -> int:
    """The id of team `name`, created if missing."""
    team_id = await session.scalar(select(TeamRow.id).where(TeamRow.name == name))
    if team_id is not None:
        return team_id
    row = TeamRow(name=name)
    session.add(row)
    await session.flush()
    return row.id


async def _agent_ids(session: AsyncSession, logins: Iterable[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(logins))
    rows = await session.execute(select(Agent.login, Agent.id).where(Agent.login.in_(wanted)))
    found = {login: agent_id for login, agent_id in rows}
    missing = [login for login in wanted if login not in found]
    if missing:
        raise ValueError(f"no agent with login {missing[0]!r}")
    return found


async def put_in_team(session: AsyncSession, team: str, logins: Iterable[str]) -> None:
    """Make each of `logins` a member of `team` (leaving any team they were in)."""
    team_id = await ensure_team(session, team)
    for agent_id in (await _agent_ids(session, logins)).values():
        row = await session.get(TeamMemberRow, agent_id)
        if row is None:
            session.add(TeamMemberRow(agent_id=agent_id, team_id=team_id))
        else:
            row.team_id = team_id
    await session.flush()


async def add_supervisor_teams(session: AsyncSession, login: str, teams: Iterable[str]) -> None:
    """Let `login` look after `teams` too (idempotent); the teams are created if missing."""
    agent_id = (await _agent_ids(session, [login]))[login]
    for name in dict.fromkeys(teams):
        team_id = await ensure_team(session, name)
        if await session.get(SupervisorTeamRow, (agent_id, team_id)) is None:
            session.add(SupervisorTeamRow(agent_id=agent_id, team_id=team_id))
    await session.flush()


async def team_scope(session: AsyncSession, login: str) -> TeamScope:
    """The teams `login` looks after, their agents' devices, and `login`'s own team."""
    supervised = select(SupervisorTeamRow.team_id).join(
        Agent, Agent.id == SupervisorTeamRow.agent_id
    )
    supervised = supervised.where(Agent.login == login)
    names = await session.scalars(
        select(TeamRow.name).where(TeamRow.id.in_(supervised)).order_by(TeamRow.name)
    )
    devices = await session.scalars(
        select(Agent.interface)
        .join(TeamMemberRow, TeamMemberRow.agent_id == Agent.id)
        .where(TeamMemberRow.team_id.in_(supervised), Agent.interface.is_not(None))
        .order_by(Agent.interface)
    )
    own = await session.scalar(
        select(TeamRow.name)
        .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
        .join(Agent, Agent.id == TeamMemberRow.agent_id)
        .where(Agent.login == login)
    )
    return TeamScope(tuple(names), tuple(d for d in devices if d is not None), own)


async def list_teams(session: AsyncSession) -> list[TeamRecord]:
    """Every team with its members and supervisors, by name."""
    teams = list(await session.execute(select(TeamRow.id, TeamRow.name).order_by(TeamRow.name)))
    members = await session.execute(
        select(TeamMemberRow.team_id, Agent.login).join(Agent, Agent.id == TeamMemberRow.agent_id)
    )
    bosses = await session.execute(
        select(SupervisorTeamRow.team_id, Agent.login).join(
            Agent, Agent.id == SupervisorTeamRow.agent_id
        )
    )
    by_team: dict[int, list[str]] = {}
    for team_id, login in members:
        by_team.setdefault(team_id, []).append(login)
    by_boss: dict[int, list[str]] = {}
    for team_id, login in bosses:
        by_boss.setdefault(team_id, []).append(login)
    return [
        TeamRecord(name, tuple(sorted(by_team.get(i, ()))), tuple(sorted(by_boss.get(i, ()))))
        for i, name in teams
    ]
