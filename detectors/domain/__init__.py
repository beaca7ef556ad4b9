"""Standard-grounded domain rules, one module per family (docs/detectors/<family>.md).

Each rule is a :class:`detectors.domain.rule.DomainRule`: its score is a physical measure and its level
comes from the shared :class:`detectors.domain.policy.LevelLatch` with per-sensor set points.
"""

from __future__ import annotations

from detectors.domain.elevator import ElevatorOverspeed, ElevatorOverspeedParams
from detectors.domain.elevator_heartbeat import ElevatorHeartbeatLoss, ElevatorHeartbeatLossParams
from detectors.domain.elevator_motion import (
    ElevatorDoorOpenMoving,
    ElevatorDoorOpenMovingParams,
    ElevatorStoppedOutsideZone,
    ElevatorStoppedOutsideZoneParams,
)
from detectors.domain.elevator_ride import ElevatorRideVibration, ElevatorRideVibrationParams
from detectors.domain.elevator_trap import ElevatorTrappedPassenger, ElevatorTrappedPassengerParams
from detectors.domain.gas_pipeline import PipelinePressureDrop, PipelinePressureDropParams
from detectors.domain.gas_pipeline_band import PipelinePressureBand, PipelinePressureBandParams
from detectors.domain.gas_pipeline_drop_sigma import (
    PipelinePressureDropSigma,
    PipelinePressureDropSigmaParams,
)
from detectors.domain.gas_pipeline_methane import (
    TunnelMethane,
    TunnelMethaneParams,
    WellMethane,
    WellMethaneParams,
)
from detectors.domain.gas_pipeline_night import PipelineNightMinimum, PipelineNightMinimumParams
from detectors.domain.geohazard import LandslideTangentAngle, LandslideTangentAngleParams
from detectors.domain.geohazard_acceleration import LandslideAcceleration, LandslideAccelerationParams
from detectors.domain.geohazard_crack import CrackJump, CrackJumpParams
from detectors.domain.hazchem import GasTwoStage, GasTwoStageParams
from detectors.domain.hazchem_runaway import (
    TankPressureRise,
    TankPressureRiseParams,
    TankTemperatureRise,
    TankTemperatureRiseParams,
)
from detectors.domain.hazchem_tank_level import TankLevelLimits, TankLevelLimitsParams
from detectors.domain.hazchem_toxic import ToxicGasTwoStage, ToxicGasTwoStageParams
from detectors.domain.policy import LevelLatch, LevelThresholds
from detectors.domain.rainfall import Rainstorm, RainstormParams
from detectors.domain.rainfall_antecedent import AntecedentRainfall, AntecedentRainfallParams
from detectors.domain.rainfall_waterlogging import Waterlogging, WaterloggingParams
from detectors.domain.rule import DomainRule, Measures, RuleOutput, SensorParamError, TransitionContext

__all__ = [
    "AntecedentRainfall",
    "AntecedentRainfallParams",
    "CrackJump",
    "CrackJumpParams",
    "DomainRule",
    "ElevatorDoorOpenMoving",
    "ElevatorDoorOpenMovingParams",
    "ElevatorHeartbeatLoss",
    "ElevatorHeartbeatLossParams",
    "ElevatorOverspeed",
    "ElevatorOverspeedParams",
    "ElevatorRideVibration",
    "ElevatorRideVibrationParams",
    "ElevatorStoppedOutsideZone",
    "ElevatorStoppedOutsideZoneParams",
    "ElevatorTrappedPassenger",
    "ElevatorTrappedPassengerParams",
    "GasTwoStage",
    "GasTwoStageParams",
    "LandslideAcceleration",
    "LandslideAccelerationParams",
    "LandslideTangentAngle",
    "LandslideTangentAngleParams",
    "LevelLatch",
    "LevelThresholds",
    "Measures",
    "PipelineNightMinimum",
    "PipelineNightMinimumParams",
    "PipelinePressureBand",
    "PipelinePressureBandParams",
    "PipelinePressureDrop",
    "PipelinePressureDropParams",
    "PipelinePressureDropSigma",
    "PipelinePressureDropSigmaParams",
    "Rainstorm",
    "RainstormParams",
    "RuleOutput",
    "SensorParamError",
    "TankLevelLimits",
    "TankLevelLimitsParams",
    "TankPressureRise",
    "TankPressureRiseParams",
    "TankTemperatureRise",
    "TankTemperatureRiseParams",
    "ToxicGasTwoStage",
    "ToxicGasTwoStageParams",
    "TransitionContext",
    "TunnelMethane",
    "TunnelMethaneParams",
    "Waterlogging",
    "WaterloggingParams",
    "WellMethane",
    "WellMethaneParams",
    "default_rules",
]


def default_rules() -> tuple[DomainRule, ...]:
    """The v1 rule set with default parameters, in a fixed order (it is part of the snapshot key)."""
    return (
        GasTwoStage(),
        Rainstorm(),
        ElevatorOverspeed(),
        ElevatorTrappedPassenger(),
        ElevatorStoppedOutsideZone(),
        ElevatorDoorOpenMoving(),
        ElevatorRideVibration(),
        ElevatorHeartbeatLoss(),
        LandslideTangentAngle(),
        PipelinePressureDrop(),
        ToxicGasTwoStage(),
        TankLevelLimits(),
        TankTemperatureRise(),
        TankPressureRise(),
        WellMethane(),
        TunnelMethane(),
        PipelinePressureBand(),
        PipelinePressureDropSigma(),
        PipelineNightMinimum(),
        LandslideAcceleration(),
        CrackJump(),
        AntecedentRainfall(),
        Waterlogging(),
    )
