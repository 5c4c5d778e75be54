"""Per-queue metric definitions: service-level threshold and formula, short
abandons, the "today" reset time and its timezone.

Strategy: vendors disagree on what service level and abandon rate mean
(../shared/METRICS.md), so every definition is a setting of the queue, with the
common definition as default, and the board names the one it uses. The
formulas are one table (`FORMULAS`): a name, its text, and the counters it
divides. Settings come from one environment string,

    CTI_QUEUE_METRICS="support:sl=20,formula=answered_offered,short=5,reset=06:00,tz=Europe/Paris;*:sl=30"

where `*` sets the default of every queue not listed; anything malformed
raises `ValueError` naming the queue and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_QUEUE",
    "FORMULAS",
    "Formula",
    "QueueMetricsConfig",
    "parse_queue_metrics",
]

DEFAULT_QUEUE = "*"  # the entry of CTI_QUEUE_METRICS that applies to unlisted queues

Counts = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Formula:
    """A service-level definition: 100 * numerator / denominator (None when 0)."""

    name: str
    text: str
    numerator: Callable[[Counts], float]
    denominator: Callable[[Counts], float]


# name -> definition; the vendors of METRICS.md that use each are named in docs/metrics.md
FORMULAS: dict[str, Formula] = {
    f.name: f
    for f in (
        Formula(
            "answered_offered",
            "answered within T / offered",
            lambda c: c["answered_within_sl"],
            lambda c: c["offered"],
        ),
        Formula(
            "abandons_excluded",
            "answered within T / (offered - abandoned)",
            lambda c: c["answered_within_sl"],
            lambda c: c["offered"] - c["abandoned"],
        ),
        Formula(
            "short_abandons_excluded",
            "answered within T / (offered - short abandoned)",
            lambda c: c["answered_within_sl"],
            lambda c: c["offered"] - c["short_abandoned"],
        ),
        Formula(
            "answered_abandoned",
            "answered within T / (answered + abandoned)",
            lambda c: c["answered_within_sl"],
            lambda c: c["answered"] + c["abandoned"],
        ),
        Formula(
            "left_within",
            "(answered within T + abandoned within T) / offered",
            lambda c: c["answered_within_sl"] + c["abandoned_within_sl"],
            lambda c: c["offered"],
        ),
    )
}


@dataclass(frozen=True, slots=True)
class QueueMetricsConfig:
    """One queue's definitions (defaults: the common ones of METRICS.md)."""

    sl_seconds: float = 20.0  # service-level threshold T: answered within T (inclusive)
    formula: str = "answered_offered"
    short_abandon_seconds: float = 5.0  # an abandon after less than this is "short"
    reset: time = time(0, 0)  # "today" starts at this time of day...
    timezone: str = "UTC"  # ...in this timezone

    def __post_init__(self) -> None:
        if self.formula not in FORMULAS:
            raise ValueError(f"formula: unknown {self.formula!r} (one of {', '.join(FORMULAS)})")
        if not 0 <= self.sl_seconds <= 3600:
            raise ValueError(f"sl: expected 0-3600 seconds, got {self.sl_seconds}")
        if not 0 <= self.short_abandon_seconds <= 3600:
            raise ValueError(f"short: expected 0-3600 seconds, got {self.short_abandon_seconds}")
        if self.reset.second or self.reset.microsecond or self.reset.tzinfo is not None:
            raise ValueError(f"reset: expected HH:MM, got {self.reset}")
        _zone(self.timezone)

    @property
    def sl_formula(self) -> Formula:
        return FORMULAS[self.formula]

    def today_start(self, now: float) -> float:
        """The epoch time "today" began for this queue: the last reset at or before `now`."""
        zone = _zone(self.timezone)
        local = datetime.fromtimestamp(now, zone)
        start = datetime.combine(local.date(), self.reset, zone)
        if start.timestamp() > now:
            start = datetime.combine(local.date() - timedelta(days=1), self.reset, zone)
        return start.timestamp()

    def definition(self) -> dict[str, object]:
        """What the board shows so a reader knows which definitions are in use."""
        return {
            "service_level": {
                "formula": self.formula,
                "text": self.sl_formula.text,
                "threshold_seconds": self.sl_seconds,
            },
            "short_abandon_seconds": self.short_abandon_seconds,
            "reset": self.reset.strftime("%H:%M"),
            "timezone": self.timezone,
        }


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        try:
            zone = _ZONES[name] = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"tz: unknown timezone {name!r}") from exc
    return zone


def _seconds(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{key}: expected seconds, got {value!r}") from None


def _reset(value: str) -> time:
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"reset: expected HH:MM, got {value!r}")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"reset: expected HH:MM, got {value!r}")
    return time(int(hours), int(minutes))


def _queue_config(items: str, base: QueueMetricsConfig) -> QueueMetricsConfig:
    values: dict[str, object] = {
        "sl_seconds": base.sl_seconds,
        "formula": base.formula,
        "short_abandon_seconds": base.short_abandon_seconds,
        "reset": base.reset,
        "timezone": base.timezone,
    }
    for item in filter(None, (p.strip() for p in items.split(","))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not value:
            raise ValueError(f"expected key=value, got {item!r}")
        if key == "sl":
            values["sl_seconds"] = _seconds(key, value)
        elif key == "formula":
            values["formula"] = value
        elif key == "short":
            values["short_abandon_seconds"] = _seconds(key, value)
        elif key == "reset":
            values["reset"] = _reset(value)
        elif key == "tz":
            values["timezone"] = value
        else:
            raise ValueError(f"unknown setting {key!r} (sl, formula, short, reset, tz)")
    return QueueMetricsConfig(**values)  # type: ignore[arg-type]


def parse_queue_metrics(text: str) -> dict[str, QueueMetricsConfig]:
    """`CTI_QUEUE_METRICS` -> {queue: config}; the `*` entry (if any) is the default
    and also the base every listed queue starts from."""
    entries: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        queue, sep, items = part.partition(":")
        queue = queue.strip()
        if not sep or not queue:
            raise ValueError(f"CTI_QUEUE_METRICS: expected queue:settings, got {part!r}")
        entries.append((queue, items))
    out: dict[str, QueueMetricsConfig] = {}
    base = QueueMetricsConfig()
    for queue, items in sorted(entries, key=lambda e: e[0] != DEFAULT_QUEUE):
        if queue in out:
            raise ValueError(f"CTI_QUEUE_METRICS: queue {queue!r} listed twice")
        try:
            out[queue] = _queue_config(items, base)
        except ValueError as exc:
            raise ValueError(f"CTI_QUEUE_METRICS: queue {queue!r}: {exc}") from None
        if queue == DEFAULT_QUEUE:
            base = out[queue]
    return out
