"""Generic detectors: data-quality checks and statistical scores that work on any single-channel sensor.

Each is a :class:`detectors.base.Detector` with a frozen parameter dataclass and per-sensor state
arrays; see docs/detectors/generic.md for what each detects, its parameters, state size and warm-up.
"""

from detectors.generic.common import GenericDetector
from detectors.generic.cusum import Cusum, CusumParams
from detectors.generic.ewma_z import EwmaZ, EwmaZParams
from detectors.generic.flat_line import FlatLine, FlatLineParams, FlatLineUnit
from detectors.generic.gap import Gap, GapParams
from detectors.generic.rate_of_change import RateOfChange, RateOfChangeParams
from detectors.generic.robust_z import RobustZ, RobustZParams
from detectors.generic.spike import Spike, SpikeParams
from detectors.generic.static_limits import StaticLimits, StaticLimitsParams

__all__ = [
    "Cusum",
    "CusumParams",
    "EwmaZ",
    "EwmaZParams",
    "FlatLine",
    "FlatLineParams",
    "FlatLineUnit",
    "Gap",
    "GapParams",
    "GenericDetector",
    "RateOfChange",
    "RateOfChangeParams",
    "RobustZ",
    "RobustZParams",
    "Spike",
    "SpikeParams",
    "StaticLimits",
    "StaticLimitsParams",
]
