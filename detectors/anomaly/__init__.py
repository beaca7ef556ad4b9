"""General-purpose streaming anomaly score for sensors without a domain rule (docs/detectors/anomaly.md)."""

from detectors.anomaly.ensemble import AnomalyParams, AnomalyScore

__all__ = ["AnomalyParams", "AnomalyScore"]
