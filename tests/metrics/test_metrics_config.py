"""CTI_QUEUE_METRICS: per-queue definitions, and clear errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from cti.config import Settings
from cti.metrics import QueueMetricsConfig, parse_queue_metrics


def test_empty_means_the_defaults() -> None:
    assert parse_queue_metrics("") == {}
    config = QueueMetricsConfig()
    assert (config.sl_seconds, config.formula, config.short_abandon_seconds) == (
        20.0,
        "answered_offered",
        5.0,
    )
    assert (config.reset, config.timezone) == (time(0, 0), "UTC")


def test_queues_and_a_default() -> None:
    parsed = parse_queue_metrics(
        " support: sl=30, formula=abandons_excluded, short=3, reset=06:00, tz=Europe/Paris ;"
        "*:sl=15;sales:"
    )
    assert parsed["support"] == QueueMetricsConfig(
        30.0, "abandons_excluded", 3.0, time(6, 0), "Europe/Paris"
    )
    assert parsed["*"] == QueueMetricsConfig(sl_seconds=15.0)
    assert parsed["sales"] == QueueMetricsConfig(sl_seconds=15.0)  # starts from the default


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_QUEUE_METRICS", "support:sl=10")
    assert Settings().queue_metrics == {"support": QueueMetricsConfig(sl_seconds=10.0)}
    monkeypatch.setenv("CTI_QUEUE_METRICS", "support:sl=ten")
    with pytest.raises(ValueError, match=r"queue 'support': sl: expected seconds, got 'ten'"):
        Settings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("support", "expected queue:settings, got 'support'"),
        (":sl=20", "expected queue:settings"),
        ("support:sl", "queue 'support': expected key=value, got 'sl'"),
        ("support:sl=-1", "queue 'support': sl: expected 0-3600 seconds"),
        ("support:short=x", "queue 'support': short: expected seconds, got 'x'"),
        ("support:formula=magic", "queue 'support': formula: unknown 'magic' \\(one of"),
        ("support:reset=6", "queue 'support': reset: expected HH:MM, got '6'"),
        ("support:reset=24:00", "reset: expected HH:MM, got '24:00'"),
        ("support:reset=06:5", "reset: expected HH:MM"),
        ("support:tz=Mars/Olympus", "queue 'support': tz: unknown timezone 'Mars/Olympus'"),
        ("support:colour=red", "queue 'support': unknown setting 'colour'"),
        ("support:sl=20;support:sl=30", "queue 'support' listed twice"),
    ],
)
def test_bad_input_names_the_queue_and_the_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_queue_metrics(text)
    assert str(caught.value).startswith("CTI_QUEUE_METRICS: ")


def _epoch(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def test_today_starts_at_the_last_reset_in_the_queue_timezone() -> None:
    utc6 = QueueMetricsConfig(reset=time(6, 0))
    assert utc6.today_start(_epoch(2026, 11, 29, 7, 0)) == _epoch(2026, 11, 29, 6, 0)
    assert utc6.today_start(_epoch(2026, 11, 29, 5, 59)) == _epoch(2026, 11, 28, 6, 0)
    assert utc6.today_start(_epoch(2026, 11, 29, 6, 0)) == _epoch(2026, 11, 29, 6, 0)
    # midnight in Paris is 23:00 UTC in winter, 22:00 UTC in summer
    paris = QueueMetricsConfig(timezone="Europe/Paris")
    assert paris.today_start(_epoch(2026, 11, 29, 12, 0)) == _epoch(2026, 11, 28, 23, 0)
    assert paris.today_start(_epoch(2026, 7, 1, 12, 0)) == _epoch(2026, 6, 30, 22, 0)


def test_the_board_names_its_definition() -> None:
    config = QueueMetricsConfig(sl_seconds=30, formula="left_within", reset=time(6, 30))
    assert config.definition() == {
        "service_level": {
            "formula": "left_within",
            "text": "(answered within T + abandoned within T) / offered",
            "threshold_seconds": 30.0,
        },
        "short_abandon_seconds": 5.0,
        "reset": "06:30",
        "timezone": "UTC",
    }
