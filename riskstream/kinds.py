"""Catalogue of sensor kinds: family, unit, channels and what a value means.

Every ``kind`` in a registry must be listed here; ``riskstream kinds`` prints this table and
docs/sensor-kinds.md documents it. ``nature`` says whether a value is an instantaneous reading,
an increment since the sensor's previous reading (rain gauges) or a cumulative total (displacement).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from riskstream.schemas import Family


class Nature(StrEnum):
    INSTANTANEOUS = "instantaneous"
    INCREMENT = "increment"
    CUMULATIVE = "cumulative"


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    family: Family
    unit: str
    nature: Nature
    description: str
    # Multi-channel kinds send ``values`` with exactly these channel names; single-channel ones ``value``.
    channels: tuple[str, ...] = ()

    @property
    def multi_channel(self) -> bool:
        return bool(self.channels)


_F = Family
_N = Nature

KINDS: dict[str, KindSpec] = {
    k.kind: k
    for k in (
        KindSpec(
            "combustible_gas",
            _F.HAZCHEM,
            "%LEL",
            _N.INSTANTANEOUS,
            "combustible gas concentration at a detector in a plant (GB/T 50493)",
        ),
        KindSpec(
            "toxic_gas",
            _F.HAZCHEM,
            "mg/m3",
            _N.INSTANTANEOUS,
            "toxic gas concentration; params.gas names the gas for its OEL set points",
        ),
        KindSpec(
            "tank_level",
            _F.HAZCHEM,
            "%",
            _N.INSTANTANEOUS,
            "tank liquid level as percent of the maximum safe fill",
        ),
        KindSpec("tank_temperature", _F.HAZCHEM, "degC", _N.INSTANTANEOUS, "tank or vessel temperature"),
        KindSpec("tank_pressure", _F.HAZCHEM, "MPa", _N.INSTANTANEOUS, "tank or vessel pressure"),
        KindSpec(
            "well_methane",
            _F.GAS_PIPELINE,
            "%LEL",
            _N.INSTANTANEOUS,
            "methane in an underground space next to gas pipes (manhole, valve well)",
        ),
        KindSpec(
            "tunnel_methane",
            _F.GAS_PIPELINE,
            "%LEL",
            _N.INSTANTANEOUS,
            "methane in the gas compartment of a utility tunnel (GB 50838)",
        ),
        KindSpec(
            "pipeline_pressure",
            _F.GAS_PIPELINE,
            "kPa",
            _N.INSTANTANEOUS,
            "gas pipeline pressure at a station or regulator",
        ),
        KindSpec("pipeline_flow", _F.GAS_PIPELINE, "Nm3/h", _N.INSTANTANEOUS, "gas flow rate"),
        KindSpec(
            "gnss_displacement",
            _F.GEOHAZARD,
            "mm",
            _N.CUMULATIVE,
            "cumulative surface displacement of a GNSS point on a slope",
        ),
        KindSpec("crack_meter", _F.GEOHAZARD, "mm", _N.CUMULATIVE, "cumulative crack opening"),
        KindSpec("groundwater_level", _F.GEOHAZARD, "m", _N.INSTANTANEOUS, "groundwater level below surface"),
        KindSpec(
            "rain_gauge",
            _F.RAINFALL,
            "mm",
            _N.INCREMENT,
            "rain fallen since the gauge's previous reading (tipping bucket)",
        ),
        KindSpec(
            "water_depth",
            _F.RAINFALL,
            "cm",
            _N.INSTANTANEOUS,
            "standing water depth on a road or in an underpass",
        ),
        KindSpec(
            "elevator_status",
            _F.ELEVATOR,
            "mixed",
            _N.INSTANTANEOUS,
            "car state: speed (m/s), door open (0/1), in door zone (0/1), occupied (0/1)",
            channels=("speed_mps", "door_open", "in_door_zone", "occupied"),
        ),
        KindSpec(
            "elevator_vibration",
            _F.ELEVATOR,
            "m/s2",
            _N.INSTANTANEOUS,
            "car vibration: vertical and horizontal acceleration peak-to-peak over the report period",
            channels=("z_pkpk", "xy_pkpk"),
        ),
    )
}


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown sensor kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}") from None
