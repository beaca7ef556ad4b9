"""Data-quality channel (QARTOD): per-reading flags, sensor_fault alerts, hold-back of hazard escalation."""

from detectors.quality.channel import RULE_OF_CHECK, FaultChange, QualityChannel, QualityResult, hold_back
from detectors.quality.checks import CHECKS, FAIL, NOT_EVALUATED, PASS, SUSPECT, QartodQuality, QualityParams

__all__ = [
    "CHECKS",
    "FAIL",
    "NOT_EVALUATED",
    "PASS",
    "RULE_OF_CHECK",
    "SUSPECT",
    "FaultChange",
    "QartodQuality",
    "QualityChannel",
    "QualityParams",
    "QualityResult",
    "hold_back",
]
