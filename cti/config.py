"""Settings, read once from the environment (prefix CTI_).

The defaults match `asterisk-conf/` (manager.conf, ari.conf), so a CTI started
beside the shipped Asterisk configuration connects with no settings at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cti.metrics.config import QueueMetricsConfig, parse_queue_metrics

__all__ = ["Settings"]


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CTI_{name}", default)


def _wrapup(text: str) -> dict[str, float]:
    """ "support=30,sales=15" -> {"support": 30.0, "sales": 15.0}; a bad entry raises."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        queue, sep, seconds = item.partition("=")
        value = float(seconds) if sep else -1.0
        if not queue.strip() or not 0 <= value <= 3600:
            raise ValueError(f"CTI_WRAPUP: expected queue=seconds (0-3600), got {item!r}")
        out[queue.strip()] = value
    return out


def _reasons(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))


@dataclass(frozen=True, slots=True)
class Settings:
    ami_host: str = field(default_factory=lambda: _env("AMI_HOST", "127.0.0.1"))
    ami_port: int = field(default_factory=lambda: int(_env("AMI_PORT", "5038")))
    ami_username: str = field(default_factory=lambda: _env("AMI_USERNAME", "cti"))
    ami_secret: str = field(default_factory=lambda: _env("AMI_SECRET", "cti-secret"))
    ari_url: str = field(default_factory=lambda: _env("ARI_URL", "http://127.0.0.1:8088"))
    ari_username: str = field(default_factory=lambda: _env("ARI_USERNAME", "cti"))
    ari_password: str = field(default_factory=lambda: _env("ARI_PASSWORD", "cti-secret"))
    # The Stasis application the dialplan hands calls to (`Stasis(cti-ivr,...)`).
    ari_app: str = field(default_factory=lambda: _env("ARI_APP", "cti-ivr"))
    # Seconds one AMI action or ARI request may take before it fails as a timeout.
    action_timeout: float = field(default_factory=lambda: float(_env("ACTION_TIMEOUT", "5")))
    # Seconds the data dip may wait for the database before the call goes on
    # without customer variables: a caller must never wait on a slow database.
    dip_timeout: float = field(default_factory=lambda: float(_env("DIP_TIMEOUT", "0.8")))
    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite+aiosqlite:///cti.sqlite3")
    )
    # Signs login tokens. The default is only fit for the demo; set it in production.
    token_secret: str = field(default_factory=lambda: _env("TOKEN_SECRET", "change-me-demo-only"))
    token_ttl_seconds: int = field(default_factory=lambda: int(_env("TOKEN_TTL", "43200")))
    http_host: str = field(default_factory=lambda: _env("HTTP_HOST", "127.0.0.1"))
    http_port: int = field(default_factory=lambda: int(_env("HTTP_PORT", "8000")))
    # After-call work per queue, seconds (CTI_WRAPUP="support=30,sales=15"); a
    # queue not listed has none. See docs/agent-states.md.
    wrapup_seconds: dict[str, float] = field(default_factory=lambda: _wrapup(_env("WRAPUP", "")))
    # The pause reasons agents may choose (CTI_PAUSE_REASONS="break,lunch,...");
    # any other reason is refused (422). "wrap-up" is reserved for wrap-up.
    pause_reasons: tuple[str, ...] = field(
        default_factory=lambda: _reasons(_env("PAUSE_REASONS", "break,lunch,training,meeting"))
    )
    # Seconds between two WebSocket updates of one queue (its board, with its
    # queue_state when the waiting callers changed) or one agent to supervisors
    # (cti/feed): 0.25 = at most 4 per second. 0: no limit (still one update per
    # burst of events Asterisk reports together, not one per event).
    board_interval: float = field(default_factory=lambda: float(_env("BOARD_INTERVAL", "0.25")))
    # The disposition codes agents may set on a call (CTI_DISPOSITIONS="resolved,...");
    # any other code is refused (422).
    dispositions: tuple[str, ...] = field(
        default_factory=lambda: _reasons(
            _env("DISPOSITIONS", "resolved,callback,escalated,no_action,wrong_number")
        )
    )
    # Customer web chats an agent may hold at once (docs/chat.md, cti/chat/routing.py).
    chat_max_per_agent: int = field(default_factory=lambda: int(_env("CHAT_MAX_PER_AGENT", "3")))
    # Queue metric definitions per queue, "*" for the default (docs/metrics.md):
    # CTI_QUEUE_METRICS="support:sl=20,formula=answered_offered,short=5,reset=06:00,tz=UTC"
    queue_metrics: dict[str, QueueMetricsConfig] = field(
        default_factory=lambda: parse_queue_metrics(_env("QUEUE_METRICS", ""))
    )
    # The event bus between CTI nodes (docs/bus.md): empty = in-process (one
    # node); "amqp://guest:guest@127.0.0.1:5672/" = RabbitMQ.
    bus_url: str = field(default_factory=lambda: _env("BUS_URL", ""))
