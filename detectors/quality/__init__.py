"""Data-quality channel (QARTOD): per-reading flags, sensor_fault alerts, hold-back of hazard escalation."""

from detectors.quality.channel import QualityChannel, QualityResult, hold_back, keyed_alerts
from detectors.quality.checks import CHECKS, FAIL, NOT_EVALUATED, PASS, SUSPECT, QartodQuality, QualityParams

__all__ = [
    "CHECKS",
    "FAIL",
    "NOT_EVALUATED",
    "PASS",
    "SUSPECT",
    "QartodQuality",
    "QualityChannel",
    "QualityParams",
    "QualityResult",
    "hold_back",
    "keyed_alerts",
]
