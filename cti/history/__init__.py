"""Call history: records with legs, ring attempts, transfers and dispositions;
search, CSV export and per-agent daily stats (core.py pure, service.py the shell)."""

from cti.history.core import (
    MAX_NOTES_CHARS,
    Disposition,
    HistoryEntry,
    HistoryFilter,
    Scope,
    Viewer,
    check_disposition,
    in_scope,
    scope_of,
)
from cti.history.daily import DailyStats, StateSpell, daily_stats
from cti.history.service import HistoryError, HistoryService, HistoryStore

__all__ = [
    "MAX_NOTES_CHARS",
    "DailyStats",
    "Disposition",
    "HistoryEntry",
    "HistoryError",
    "HistoryFilter",
    "HistoryService",
    "HistoryStore",
    "Scope",
    "StateSpell",
    "Viewer",
    "check_disposition",
    "daily_stats",
    "in_scope",
    "scope_of",
]
