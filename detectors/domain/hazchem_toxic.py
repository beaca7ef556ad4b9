"""Toxic gas two-stage alarm (GB/T 50493-2019) with per-gas set points from the OEL table.

GB/T 50493-2019 "报警值设置" ([S] per domain-thresholds.md §1, clause number not verified): the 1st alarm
at ≤ 100 %OEL and the 2nd at ≤ 200 %OEL; where the detector's measuring range cannot meet that (it
cannot resolve concentrations as low as 100 %OEL), the 1st at ≤ 5 %IDLH and the 2nd at ≤ 10 %IDLH.
The worked AL/AH values per gas ([S], vendor table "based on GB/T 50493-2019", check against the
standard's annex) are :data:`OEL_TABLE`; the registry param ``gas`` picks the row. The colours follow
the combustible-gas mapping ([P], domain-thresholds.md §0): ½ of the 1st alarm → blue, 1st → yellow,
2nd → orange, 2nd and rising → red; the facility's major-hazard level weights them (hazchem_mhs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import State, copy_state
from detectors.domain.hazchem import TwoStageGasMeasure
from detectors.domain.hazchem_mhs import MHS_KEYS
from detectors.domain.policy import LevelThresholds
from detectors.domain.rule import SensorParamError, TransitionContext, change_reason, fmt

#: gas -> (1st alarm AL, 2nd alarm AH) in mg/m³: 100 %OEL and 200 %OEL (domain-thresholds.md §1, [S])
OEL_TABLE: dict[str, tuple[float, float]] = {
    "H2S": (10.0, 20.0),
    "CO": (20.0, 40.0),
    "NO2": (5.0, 10.0),
    "HCHO": (2.0, 4.0),
    "Cl2": (1.0, 2.0),
    "H2O2": (1.5, 3.0),
    "methanol": (25.0, 50.0),
    "SO2": (5.0, 10.0),
    "NH3": (20.0, 40.0),
    "CO2": (9000.0, 18000.0),
    "benzene": (6.0, 12.0),
    "HF": (2.0, 4.0),
    "HCN": (1.0, 2.0),
    "HCl": (7.5, 15.0),
    "phosgene": (0.5, 1.0),
    "ethylene_oxide": (0.6, 1.2),
    "vinyl_chloride": (10.0, 20.0),
    "Br2": (0.3, 0.6),
    "NO": (5.0, 10.0),
    "acrylonitrile": (1.0, 2.0),
    "toluene": (50.0, 100.0),
    "phenol": (10.0, 20.0),
    "O3": (0.3, 0.6),
    "xylene": (50.0, 100.0),
}
GASES: tuple[str, ...] = tuple(OEL_TABLE)
_AL = np.array([OEL_TABLE[g][0] for g in GASES])
#: other spellings accepted in ``params.gas`` (compared case-insensitively, '-' and ' ' as '_')
ALIASES: dict[str, str] = {
    "hydrogen_sulfide": "H2S",
    "hydrogen_sulphide": "H2S",
    "carbon_monoxide": "CO",
    "nitrogen_dioxide": "NO2",
    "formaldehyde": "HCHO",
    "chlorine": "Cl2",
    "hydrogen_peroxide": "H2O2",
    "sulfur_dioxide": "SO2",
    "sulphur_dioxide": "SO2",
    "ammonia": "NH3",
    "carbon_dioxide": "CO2",
    "hydrogen_fluoride": "HF",
    "hydrogen_cyanide": "HCN",
    "hydrogen_chloride": "HCl",
    "cocl2": "phosgene",
    "eo": "ethylene_oxide",
    "vcm": "vinyl_chloride",
    "bromine": "Br2",
    "nitric_oxide": "NO",
    "ozone": "O3",
}
_LOOKUP: dict[str, str] = {g.lower(): g for g in GASES} | ALIASES
#: fractions of IDLH for the two stages when the detector cannot resolve 100 %OEL
IDLH_FIRST, IDLH_SECOND = 0.05, 0.10
#: ``sp_gas`` of a gas the table does not list (explicit set points required)
UNKNOWN_GAS = -1.0


def gas_code(name: str) -> float:
    """Index of ``name`` in :data:`GASES`, or :data:`UNKNOWN_GAS`."""
    key = _LOOKUP.get(name.strip().lower().replace("-", "_").replace(" ", "_"))
    return float(GASES.index(key)) if key is not None else UNKNOWN_GAS


def gas_name(code: float) -> str:
    return GASES[int(code)] if 0 <= code < len(GASES) else "(not in the OEL table)"


@dataclass(frozen=True, slots=True)
class ToxicGasTwoStageParams:
    """``gas`` is the gas of rows the registry does not configure; the rest are per-sensor defaults.

    NaN set points mean "from the OEL table for the sensor's gas" (or from IDLH, see the rule).
    """

    gas: str = "H2S"
    first_alarm_mgm3: float = math.nan
    second_alarm_mgm3: float = math.nan
    oel_mgm3: float = math.nan
    detection_limit_mgm3: float = math.nan
    range_mgm3: float = math.nan
    idlh_mgm3: float = math.nan
    prealarm_ratio: float = 0.5
    clear_ratio: float = 0.1
    mhs_level: float = 0.0
    r_value: float = math.nan


class ToxicGasTwoStage(TwoStageGasMeasure[ToxicGasTwoStageParams]):
    """Two-stage toxic gas alarm in mg/m³, set points per gas, with hysteresis.

    Effective set points of a sensor, in this order: explicit ``first_alarm_mgm3``/``second_alarm_mgm3``;
    else, when the detector's lower limit ``detection_limit_mgm3`` is above 100 %OEL (it cannot resolve
    the OEL set points), 5 % and 10 % of ``idlh_mgm3``; else 100 % and 200 % of the OEL (``oel_mgm3``,
    by default the table's AL for ``gas``). ``range_mgm3`` (full scale), when given, must reach the
    2nd alarm. Levels as
    :class:`detectors.domain.hazchem.GasTwoStage`: red = ≥ 2nd and rising vs the previous reading,
    orange ≥ 2nd, yellow ≥ 1st, blue ≥ ``prealarm_ratio`` × 1st. A level is held until the reading
    falls below its set point × (1 − ``clear_ratio``) (a ratio: the set points span 0.3 to 18,000 mg/m³).
    """

    name = "toxic_gas_two_stage"
    kinds: ClassVar[tuple[str, ...]] = ("toxic_gas",)
    source = "GB/T 50493-2019"
    unit = "mg/m³"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "first_alarm_mgm3",
        "second_alarm_mgm3",
        "oel_mgm3",
        "detection_limit_mgm3",
        "range_mgm3",
        "idlh_mgm3",
        "prealarm_ratio",
        "clear_ratio",
        *MHS_KEYS,
    )

    def __init__(self, params: ToxicGasTwoStageParams | None = None) -> None:
        super().__init__(params or ToxicGasTwoStageParams())
        if gas_code(self.params.gas) == UNKNOWN_GAS:
            raise ValueError(f"{self.name}: default gas {self.params.gas!r} is not in the OEL table")

    @classmethod
    def conformance_examples(cls) -> Sequence[ToxicGasTwoStage]:
        return (cls(), cls(ToxicGasTwoStageParams(gas="Cl2", clear_ratio=0.2)))

    # --- per-sensor gas ----------------------------------------------------------------------------

    def init_state(self, capacity: int) -> State:
        state = super().init_state(capacity)
        state["sp_gas"] = np.full(capacity, gas_code(self.params.gas), dtype=np.float64)
        return state

    def configure(
        self, state: State, sensor_params: Sequence[Mapping[str, Any]], labels: Sequence[str]
    ) -> State:
        """As :meth:`DomainRule.configure`, plus ``params.gas`` (a name from :data:`OEL_TABLE`).

        A sensor must name its gas, or give its set points (or its OEL) explicitly: the rule never assumes
        a gas for a configured sensor (``gas`` in the parameters only fills unconfigured rows).
        """
        if len(sensor_params) != self.capacity(state) or len(labels) != len(sensor_params):
            raise ValueError("configure needs one params mapping and one label per state row")
        pre = copy_state(state)
        for i, params in enumerate(sensor_params):
            if "gas" not in params:
                explicit = {"first_alarm_mgm3", "second_alarm_mgm3"} <= params.keys() or "oel_mgm3" in params
                if not explicit:  # never assume a gas for a real sensor
                    raise SensorParamError(
                        f"sensor {labels[i]}: {self.name} needs params.gas (one of {', '.join(GASES)}) "
                        "or first_alarm_mgm3 and second_alarm_mgm3, or oel_mgm3"
                    )
                pre["sp_gas"][i] = UNKNOWN_GAS
                continue
            raw = params["gas"]
            if not isinstance(raw, str):
                raise SensorParamError(f"sensor {labels[i]}: params.gas must be a gas name, got {raw!r}")
            pre["sp_gas"][i] = gas_code(raw)
        return super().configure(pre, sensor_params, labels)

    def effective_set_points(self, state: State, rows: NDArray[np.int32]) -> dict[str, NDArray[np.float64]]:
        """``first``, ``second``, ``oel`` (mg/m³) and ``idlh_basis`` (1.0 where the IDLH stages apply)."""
        code = state["sp_gas"][rows]
        known = code >= 0
        at = np.where(known, code, 0).astype(np.int64)
        given = state["sp_oel_mgm3"][rows]
        oel = np.where(np.isfinite(given), given, np.where(known, _AL[at], np.nan))
        second_oel = 2.0 * oel  # 200 %OEL (the table's AH)
        limit, idlh = state["sp_detection_limit_mgm3"][rows], state["sp_idlh_mgm3"][rows]
        with np.errstate(invalid="ignore"):
            short = np.isfinite(limit) & (limit > oel)
        first = np.where(short, IDLH_FIRST * idlh, oel)
        second = np.where(short, IDLH_SECOND * idlh, second_oel)
        ex1, ex2 = state["sp_first_alarm_mgm3"][rows], state["sp_second_alarm_mgm3"][rows]
        explicit = np.isfinite(ex1) | np.isfinite(ex2)
        first = np.where(np.isfinite(ex1), ex1, first)
        second = np.where(np.isfinite(ex2), ex2, second)
        idlh_basis = (short & ~explicit).astype(np.float64)
        return {"first": first, "second": second, "oel": oel, "idlh_basis": idlh_basis, "short": short}

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        super()._check_sensor_columns(state, labels)
        rows = np.arange(self.capacity(state), dtype=np.int32)
        sp = self.effective_set_points(state, rows)
        first, second = sp["first"], sp["second"]
        explicit = np.isfinite(state["sp_first_alarm_mgm3"]) | np.isfinite(state["sp_second_alarm_mgm3"])
        no_idlh = sp["short"] & ~explicit & ~np.isfinite(state["sp_idlh_mgm3"])
        unknown = (
            (state["sp_gas"] < 0)
            & ~(np.isfinite(state["sp_first_alarm_mgm3"]) & np.isfinite(state["sp_second_alarm_mgm3"]))
            & ~np.isfinite(state["sp_oel_mgm3"])
        )
        ratio, clear = state["sp_prealarm_ratio"], state["sp_clear_ratio"]
        with np.errstate(invalid="ignore"):
            checks = (
                (unknown, f"needs params.gas from the OEL table ({', '.join(GASES)}) or explicit set points"),
                (
                    no_idlh,
                    "detector cannot resolve 100 %OEL (detection_limit_mgm3): give idlh_mgm3 "
                    "(GB/T 50493: 5/10 %IDLH) or explicit set points",
                ),
                (
                    first < np.nan_to_num(state["sp_detection_limit_mgm3"]),
                    "1st alarm is below detection_limit_mgm3",
                ),
                (second > np.nan_to_num(state["sp_range_mgm3"], nan=np.inf), "2nd alarm is above range_mgm3"),
                (~((first > 0) & (second >= first)), "needs 0 < first_alarm_mgm3 ≤ second_alarm_mgm3"),
                ((ratio <= 0) | (ratio > 1), "needs 0 < prealarm_ratio ≤ 1"),
                ((clear < 0) | (clear >= 1), "needs 0 ≤ clear_ratio < 1"),
                (state["sp_range_mgm3"] <= 0, "needs range_mgm3 > 0"),
                (state["sp_detection_limit_mgm3"] < 0, "needs detection_limit_mgm3 ≥ 0"),
                (state["sp_idlh_mgm3"] <= 0, "needs idlh_mgm3 > 0"),
                (state["sp_oel_mgm3"] <= 0, "needs oel_mgm3 > 0"),
            )
        self._reject_first_bad(checks, labels)

    # --- levels ------------------------------------------------------------------------------------

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        sp = self.effective_set_points(state, rows)
        first, second = sp["first"], sp["second"]
        pre = state["sp_prealarm_ratio"][rows] * first
        set_points = np.stack([pre, first, second, second], axis=1)
        clear = set_points * (1.0 - state["sp_clear_ratio"][rows])[:, None]
        return LevelThresholds(set_points, clear, np.ones(rows.size, dtype=np.float64))

    def describe_levels(self, ctx: TransitionContext) -> str:
        sp = self.effective_set_points(_one_row_state(ctx), np.zeros(1, dtype=np.int32))
        gas = gas_name(float(ctx.extra.get("gas", UNKNOWN_GAS)))
        idlh = bool(sp["idlh_basis"][0])
        oel = float(sp["oel"][0])
        if idlh:
            names = ("pre-alarm", "1st alarm (5 %IDLH)", "2nd alarm (10 %IDLH)", "2nd alarm (10 %IDLH)")
            basis = (
                f", IDLH {fmt(ctx.sp['idlh_mgm3'], 3)} mg/m³ (the detector resolves only "
                f"{fmt(ctx.sp['detection_limit_mgm3'], 3)} mg/m³, above 100 %OEL)"
            )
        else:
            names = ("pre-alarm", "1st alarm", "2nd alarm", "2nd alarm")
            basis = ""
        detail = ""
        if math.isfinite(oel) and oel > 0 and math.isfinite(ctx.score):
            detail = f", {fmt(100.0 * ctx.score / oel, 0)} %OEL (OEL {fmt(oel, 3)} mg/m³)"
        detail += basis
        if ctx.rising and ctx.level == 4:
            detail += ", rising"
        elif ctx.rising and ctx.level == 1:
            detail += f", pre-alarm = {fmt(ctx.sp['prealarm_ratio'])} × 1st alarm (colour mapping [P])"
        return change_reason(
            ctx,
            self.name,
            what=(f"toxic gas {gas}",) * 4,
            set_names=names,
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=3,
        )

    def context(self, state: State, row: int, *args: Any, **kwargs: Any) -> TransitionContext:
        ctx = super().context(state, row, *args, **kwargs)
        return replace(ctx, extra={**ctx.extra, "gas": float(state["sp_gas"][row])})


def _one_row_state(ctx: TransitionContext) -> State:
    """A one-row ``sp_*`` state from a context, for :meth:`ToxicGasTwoStage.effective_set_points`."""
    state = {f"sp_{k}": np.array([v], dtype=np.float64) for k, v in ctx.sp.items()}
    state["sp_gas"] = np.array([float(ctx.extra.get("gas", UNKNOWN_GAS))], dtype=np.float64)
    return state
