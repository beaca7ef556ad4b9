"""Car ride quality: vibration peak-to-peak and A95 per trip against GB/T 10058 limits.

Sources (domain-thresholds.md §5.1, §5.3):

* limits, GB/T 10058 (电梯技术条件) **[M]** (not checked against the official text): vertical (z) maximum
  peak-to-peak ≤ **0.30 m/s²** and A95 ≤ **0.20 m/s²**; horizontal (x, y) maximum ≤ **0.20 m/s²** and
  A95 ≤ **0.15 m/s²**;
* measurement, GB/T 24474.1-2020 / ISO 18738-1 **[S]** (ISO 18738 specifies how to measure, not what is
  acceptable): acceleration sampled at ≥ 256 Hz **[M]**, a 10 Hz low-pass **[M]**, peak-to-peak as the
  difference of adjacent peaks of opposite sign, A95 the value 95 % of them do not exceed.

Two parts:

* :func:`lowpass_10hz`, :func:`adjacent_peak_to_peak`, :func:`report_pkpk` and :func:`a95` turn raw
  acceleration (the vibration about the motion profile, e.g. the constant-speed part of a trip) into the
  per-period peak-to-peak values the ``elevator_vibration`` kind reports, with scipy filtering. Sensor
  boxes or gateways that have raw samples use them; the scenario suite (simulators/suites/elevator.py)
  makes its vibration readings this way.
* :class:`ElevatorRideVibration`, the rule, works on the reported ``z_pkpk, xy_pkpk`` per period. A trip
  is a run of readings with ``z_pkpk ≥ motion_floor_mps2`` (a car at rest reads its noise floor); when
  it ends, the trip's A95 per axis is the 95th percentile (linear interpolation, as ``numpy.percentile``)
  of its per-period values. A run shorter than ``min_trip_readings`` (2) is a jolt (door slam, someone
  jumping), not a ride, and gets no A95. With a few report periods per trip the A95 is close to the
  trip's largest period value; an ISO 18738 A95 over every half-cycle is smoother (a sensor box or
  gateway with raw samples computes it with the helpers above).

Levels **[P]** (GB/T 10058 is an acceptance test, not a warning scale): blue when the last trip's A95
exceeds its limit on either axis (ride quality degraded: schedule maintenance); yellow when the per-period
peak-to-peak exceeds the maximum limit on ``vib_sustain_readings`` consecutive readings; orange at
``vib_orange_ratio`` (2) × the limit (violent shaking, 电梯晃动: take the lift out of service and check
guides, rollers and ropes). Red is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from detectors.base import Batch, State
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    fmt,
    level_label,
    readings_text,
)

#: ISO 18738-1 low-pass corner for ride-quality vibration [M]
ISO18738_CUTOFF_HZ = 10.0


# --- raw acceleration -> reported peak-to-peak (scipy) ---------------------------------------------


def lowpass_10hz(accel: NDArray[np.float64], fs_hz: float, cutoff_hz: float = ISO18738_CUTOFF_HZ) -> NDArray:
    """Zero-phase 4th-order Butterworth low-pass (10 Hz by default) along the last axis.

    Zero phase (forward-backward) because ride quality is evaluated on a finished record; the corner and
    the Butterworth shape follow ISO 18738-1 as remembered **[M]**.
    """
    x = np.asarray(accel, dtype=np.float64)
    if fs_hz <= 2 * cutoff_hz:
        raise ValueError(f"sampling rate {fs_hz} Hz must exceed twice the {cutoff_hz} Hz corner")
    sos = signal.butter(4, cutoff_hz, btype="low", fs=fs_hz, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


def adjacent_peak_to_peak(x: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Peak-to-peak values between adjacent extrema of opposite sign (ISO 18738 style).

    Returns ``(index of the first extremum of each pair, |x[e_i] - x[e_i+1]|)``; empty when ``x`` has
    fewer than two extrema.
    """
    d = np.diff(np.asarray(x, dtype=np.float64))
    nz = np.flatnonzero(d != 0)
    if nz.size < 2:
        return np.empty(0, dtype=np.int64), np.empty(0)
    s = np.sign(d[nz])
    turn = nz[1:][s[1:] != s[:-1]]  # the slope changes sign between d[nz[i-1]] and d[nz[i]]: x[nz[i]]
    ext = np.r_[0, turn, x.size - 1] if turn.size else np.array([0, x.size - 1])
    return ext[:-1].astype(np.int64), np.abs(np.diff(x[ext]))


def report_pkpk(
    accel: NDArray[np.float64], fs_hz: float, period_s: float, cutoff_hz: float = ISO18738_CUTOFF_HZ
) -> NDArray[np.float64]:
    """Maximum adjacent peak-to-peak of the low-passed signal in each whole period (what a sensor box
    reports per period as ``z_pkpk`` / ``xy_pkpk``); 0 for a period without a pair."""
    y = lowpass_10hz(accel, fs_hz, cutoff_hz)
    per = round(period_s * fs_hz)
    if per < 2:
        raise ValueError("a period must hold at least two samples")
    n_periods = y.size // per
    out = np.zeros(n_periods)
    at, pp = adjacent_peak_to_peak(y[: n_periods * per])
    if pp.size:
        np.maximum.at(out, np.minimum(at // per, n_periods - 1), pp)
    return out


def a95(pkpk: NDArray[np.float64]) -> float:
    """A95: the 95th percentile (linear interpolation) of peak-to-peak values; NaN when empty."""
    v = np.asarray(pkpk, dtype=np.float64)
    return float(np.percentile(v, 95)) if v.size else float("nan")


def a95_from_top(top_desc: NDArray[np.float64], n: NDArray[np.int64]) -> NDArray[np.float64]:
    """A95 of each row's ``n`` values from its largest ones (``top_desc``, descending, ``(m, k)``).

    The 95th percentile of n values needs only the ``⌈(n-1)/20⌉ + 1`` largest, so it is exact for
    ``n ≤ 20·(k-1) + 1``; beyond that the k-th largest is returned (an upper bound). NaN where n = 0.
    """
    m, k = top_desc.shape
    q = (np.maximum(n, 1) - 1) / 20.0
    c = np.ceil(q).astype(np.int64)
    exact = c <= k - 1
    c = np.minimum(c, k - 1)
    frac = np.where(exact, c - q, 0.0)
    rows = np.arange(m)
    lo = top_desc[rows, c]
    hi = top_desc[rows, np.maximum(c - 1, 0)]
    with np.errstate(invalid="ignore"):  # rows with n = 0 hold only -inf
        out = lo + frac * (hi - lo)
    return np.where(n > 0, out, np.nan)


# --- the rule ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElevatorRideVibrationParams:
    """Per-sensor defaults (m/s², ratios, readings); ``top_k`` is rule-wide: how many of a trip's largest
    per-period values each axis keeps for its A95 (exact for trips up to 20·(top_k-1)+1 readings)."""

    z_pkpk_limit: float = 0.30
    xy_pkpk_limit: float = 0.20
    z_a95_limit: float = 0.20
    xy_a95_limit: float = 0.15
    vib_orange_ratio: float = 2.0
    vib_clear_ratio: float = 0.9
    vib_sustain_readings: float = 2
    motion_floor_mps2: float = 0.04
    min_trip_readings: float = 2
    top_k: int = 16


class ElevatorRideVibration(DomainRule[ElevatorRideVibrationParams]):
    """Vibration against the GB/T 10058 limits: per-period peak-to-peak and the last trip's A95.

    Score: the reading's peak-to-peak as a multiple of its limit, the larger of the two axes. Levels
    (see module docstring): blue = last trip's A95 ≥ its limit (held until a later trip is within it),
    yellow = peak-to-peak ≥ 1 × limit, orange ≥ ``vib_orange_ratio`` × limit, each raised after
    ``vib_sustain_readings`` consecutive readings and held until the ratio falls below
    ``vib_clear_ratio``. The trip's A95 is known at the first reading after the trip (car at rest), so
    with the default sustain of 2 readings blue comes one reading later.
    """

    name = "elevator_ride_vibration"
    kinds: ClassVar[tuple[str, ...]] = ("elevator_vibration",)
    channels = 2
    source = "GB/T 10058 ride limits z pk-pk 0.30 / A95 0.20, xy 0.20 / 0.15 m/s² [M]; ISO 18738-1 method [S]"
    unit = "× limit"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "z_pkpk_limit",
        "xy_pkpk_limit",
        "z_a95_limit",
        "xy_a95_limit",
        "vib_orange_ratio",
        "vib_clear_ratio",
        "vib_sustain_readings",
        "motion_floor_mps2",
        "min_trip_readings",
    )
    count_keys: ClassVar[tuple[str, ...]] = ("vib_sustain_readings", "min_trip_readings")

    def __init__(self, params: ElevatorRideVibrationParams | None = None) -> None:
        super().__init__(params or ElevatorRideVibrationParams())
        if self.params.top_k < 2:
            raise ValueError("top_k must be at least 2")

    @classmethod
    def conformance_examples(cls) -> Sequence[ElevatorRideVibration]:
        # conformance values are O(1) m/s²: limits and floor on that scale, small top-k for a million rows
        return (
            cls(ElevatorRideVibrationParams(top_k=4)),
            cls(
                ElevatorRideVibrationParams(
                    z_pkpk_limit=3.0,
                    xy_pkpk_limit=3.0,
                    z_a95_limit=2.0,
                    xy_a95_limit=2.0,
                    vib_sustain_readings=1,
                    motion_floor_mps2=0.5,
                    top_k=3,
                )
            ),
        )

    def _init_measure_state(self, capacity: int) -> State:
        k = self.params.top_k
        return {
            "newest_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "trip_n": np.zeros(capacity, dtype=np.int64),
            "top_z": np.full((capacity, k), -np.inf),
            "top_xy": np.full((capacity, k), -np.inf),
            "a95_z": np.full(capacity, np.nan),
            "a95_xy": np.full(capacity, np.nan),
            "a95_n": np.zeros(capacity, dtype=np.int64),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        limits = [state[f"sp_{k}"] for k in ("z_pkpk_limit", "xy_pkpk_limit", "z_a95_limit", "xy_a95_limit")]
        clear, orange = state["sp_vib_clear_ratio"], state["sp_vib_orange_ratio"]
        checks = (
            (np.any([x <= 0 for x in limits], axis=0), "needs every pk-pk and A95 limit > 0"),
            ((clear <= 0) | (clear > 1) | (orange < 1), "needs 0 < vib_clear_ratio ≤ 1 ≤ vib_orange_ratio"),
            (state["sp_motion_floor_mps2"] < 0, "needs motion_floor_mps2 ≥ 0"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        values = batch.values if batch.values.ndim == 2 else np.repeat(batch.values[:, None], 2, axis=1)
        finite = np.isfinite(values).all(axis=1) if n else np.zeros(0, dtype=bool)
        z_all, xy_all = values[:, 0], values[:, 1]
        pk = np.full(n, np.nan)
        trip = np.full(n, np.nan)
        names = ("z", "xy", "a95_z", "a95_xy", "a95_n", "axis_xy", "a95_axis_xy")
        extra = {k: np.full(n, np.nan) for k in names}
        valid = np.zeros(n, dtype=bool)
        for idx in steps:
            ok = finite[idx] & (batch.ts_ms[idx] >= state["newest_ts"][batch.rows[idx]])
            sel = idx[ok]
            if sel.size == 0:
                continue
            rows = batch.rows[sel]
            z, xy = z_all[sel], xy_all[sel]
            self._advance_trips(state, rows, z, xy)
            state["newest_ts"][rows] = batch.ts_ms[sel]
            rz, rxy = z / state["sp_z_pkpk_limit"][rows], xy / state["sp_xy_pkpk_limit"][rows]
            az = state["a95_z"][rows] / state["sp_z_a95_limit"][rows]
            axy = state["a95_xy"][rows] / state["sp_xy_a95_limit"][rows]
            pk[sel] = np.maximum(rz, rxy)
            trip[sel] = np.fmax(az, axy)
            valid[sel] = True
            extra["z"][sel], extra["xy"][sel] = z, xy
            extra["axis_xy"][sel] = rxy > rz
            extra["a95_z"][sel], extra["a95_xy"][sel] = state["a95_z"][rows], state["a95_xy"][rows]
            extra["a95_n"][sel] = state["a95_n"][rows]
            extra["a95_axis_xy"][sel] = np.nan_to_num(axy, nan=-1.0) > np.nan_to_num(az, nan=-1.0)
        nan = np.full(n, np.nan)
        return Measures(score=pk, per_level=np.stack([trip, pk, pk, nan], axis=1), valid=valid, extra=extra)

    def _advance_trips(
        self, state: State, rows: NDArray[np.int32], z: NDArray[np.float64], xy: NDArray[np.float64]
    ) -> None:
        """Close the trips that ended at this reading (A95), add moving readings to the open ones."""
        moving = z >= state["sp_motion_floor_mps2"][rows]
        trip_n = state["trip_n"][rows]
        ends = rows[~moving & (trip_n > 0)]
        short = ends[state["trip_n"][ends] < state["sp_min_trip_readings"][ends]]
        state["top_z"][short] = -np.inf  # a jolt (door slam, someone jumping), not a ride: no A95
        state["top_xy"][short] = -np.inf
        state["trip_n"][short] = 0
        ends = ends[state["trip_n"][ends] > 0]
        if ends.size:
            tz = -np.sort(-state["top_z"][ends], axis=1)
            txy = -np.sort(-state["top_xy"][ends], axis=1)
            n_end = state["trip_n"][ends]
            state["a95_z"][ends] = a95_from_top(tz, n_end)
            state["a95_xy"][ends] = a95_from_top(txy, n_end)
            state["a95_n"][ends] = n_end
            state["top_z"][ends] = -np.inf
            state["top_xy"][ends] = -np.inf
            state["trip_n"][ends] = 0
        go = rows[moving]
        if go.size:
            for key, x in (("top_z", z[moving]), ("top_xy", xy[moving])):
                top = state[key]
                j = np.argmin(top[go], axis=1)
                top[go, j] = np.maximum(top[go, j], x)
            state["trip_n"][go] += 1

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        m = rows.size
        one, nan = np.ones(m), np.full(m, np.nan)
        orange, clear = state["sp_vib_orange_ratio"][rows], state["sp_vib_clear_ratio"][rows]
        return LevelThresholds(
            np.stack([one, one, orange, nan], axis=1),
            np.stack([one, clear, clear, nan], axis=1),
            state["sp_vib_sustain_readings"][rows],
        )

    def alert_value(self, ctx: TransitionContext) -> float | None:
        """The measure of the level that changed: the trip's A95 ratio for blue, else the pk-pk ratio."""
        k = ctx.level if ctx.rising else ctx.previous
        v = float(ctx.per_level[k - 1])
        return v if np.isfinite(v) else None

    def describe(self, ctx: TransitionContext) -> str:
        x, sp = ctx.extra, ctx.sp
        change = f"{level_label(ctx.previous)} → {level_label(ctx.level)}"
        tail = f" ({self.source}); {change} [rule {self.name}, sensor {ctx.sensor_id}]"
        k = ctx.level if ctx.rising else ctx.previous
        if k == 1:  # A95 of the last trip
            axis = "xy" if x["a95_axis_xy"] >= 0.5 else "z"
            val, limit = float(x[f"a95_{axis}"]), sp[f"{axis}_a95_limit"]
            trip = f"last trip ({readings_text(int(x['a95_n']))} in motion)"
            if ctx.rising:
                return (
                    f"ride quality: {trip} A95 {axis} {fmt(val, 3)} m/s² at {ctx.where} ≥ A95 limit "
                    f"{fmt(limit, 3)} m/s² by {fmt(val - limit, 3)} m/s²; schedule maintenance (guides, "
                    f"rollers, ropes){tail}"
                )
            return f"ride quality back within the A95 limits at {ctx.where}: {trip}{tail}"
        axis = "xy" if x["axis_xy"] >= 0.5 else "z"
        val, limit = float(x[axis]), sp[f"{axis}_pkpk_limit"]
        ratio = float(ctx.per_level[k - 1])
        other = "z" if axis == "xy" else "xy"
        if ctx.rising:
            set_name = "max pk-pk limit" if k == 2 else f"{fmt(sp['vib_orange_ratio'])} × max pk-pk limit"
            set_value = limit if k == 2 else limit * sp["vib_orange_ratio"]
            advice = (
                "check the car at the next service"
                if k == 2
                else "violent shaking: take the lift out of service and inspect"
            )
            return (
                f"car vibration {axis} pk-pk {fmt(val, 3)} m/s² ({fmt(ratio)} × limit) at {ctx.where} ≥ "
                f"{set_name} {fmt(set_value, 3)} m/s² by {fmt(val - set_value, 3)} m/s² over "
                f"{readings_text(int(sp['vib_sustain_readings']))}; {other} {fmt(float(x[other]), 3)} m/s²; "
                f"{advice}{tail}"
            )
        still = ""
        if ctx.level == 1:
            a_axis = "xy" if x["a95_axis_xy"] >= 0.5 else "z"
            still = (
                f"; the trip's A95 {a_axis} {fmt(float(x[f'a95_{a_axis}']), 3)} m/s² is over its limit "
                f"{fmt(sp[f'{a_axis}_a95_limit'], 3)} m/s², so blue holds"
            )
        return (
            f"car vibration {axis} pk-pk {fmt(val, 3)} m/s² ({fmt(ratio)} × limit) at {ctx.where} < clear "
            f"point {fmt(sp['vib_clear_ratio'])} × limit {fmt(limit, 3)} m/s²{still}{tail}"
        )
