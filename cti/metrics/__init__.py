"""Live queue metrics: the pure core (no I/O), fed the model's outputs.

See cti/metrics/metrics.py for the strategy and docs/metrics.md for every
formula and setting.
"""

from cti.metrics.board import QueueBoard, WindowStats
from cti.metrics.buckets import BUCKET_SECONDS, FIELDS, StoredBucket
from cti.metrics.config import FORMULAS, QueueMetricsConfig, parse_queue_metrics
from cti.metrics.metrics import SLIDING_WINDOWS, QueueMetrics

__all__ = [
    "BUCKET_SECONDS",
    "FIELDS",
    "FORMULAS",
    "SLIDING_WINDOWS",
    "QueueBoard",
    "QueueMetrics",
    "QueueMetricsConfig",
    "StoredBucket",
    "WindowStats",
    "parse_queue_metrics",
]
