"""Vectorised signal models, one per sensor kind: seeded, stateful, one call per tick for all sensors.

Each model holds the sensors of one kind (in registry order) and returns, for one tick, the value of
every sensor at its own reading time (``t_s``: seconds since the scenario start, one per sensor; each
sensor reads at a fixed offset inside the tick). Calls must come in increasing time, once per tick.

Clean signals stay far from every set point of the detection rules (several σ, see docs/simulators.md);
incidents are added on top as *disturbances*, in the quantity each model documents:

* gas, toxic gas, methane: %LEL (or mg/m³) added to the clean concentration;
* pipeline pressure: a fraction of ``nominal_kpa`` taken off the clean pressure (0.1 = 10 % drop);
* displacement / crack: mm added to the cumulative displacement;
* rain gauge: cumulative mm of extra rain since the start (the gauge reports its increments);
* elevator status: a scripted trip (:meth:`ElevatorStatusModel.schedule_trip`).

The numbers come out already rounded to each kind's reporting resolution (:data:`DECIMALS`), so what
is published, written to files and fed to detectors offline is bit-for-bit the same.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor

F64 = NDArray[np.float64]
Disturbance = Callable[[float], float]

#: reporting resolution per kind (decimals); multi-channel kinds round every channel alike
DECIMALS: dict[str, int] = {
    "combustible_gas": 1,
    "toxic_gas": 3,
    "tank_level": 2,
    "tank_temperature": 2,
    "tank_pressure": 4,
    "well_methane": 1,
    "tunnel_methane": 1,
    "pipeline_pressure": 3,
    "pipeline_flow": 1,
    "gnss_displacement": 3,
    "crack_meter": 3,
    "groundwater_level": 3,
    "rain_gauge": 1,
    "water_depth": 1,
    "elevator_status": 3,
    "elevator_vibration": 3,
}

#: width of the columnar ``values`` matrix: single-channel values in column 0, multi-channel kinds in
#: their KINDS channel order, unused columns NaN
VALUE_COLUMNS = 4
DAY_S = 86_400.0


def _param(sensors: Sequence[Sensor], key: str, default: float) -> F64:
    return np.array([float(s.params.get(key, default)) for s in sensors], dtype=np.float64)


def diurnal_demand(tod_s: F64) -> F64:
    """Gas demand over a day in [0, 1]: low at night, morning and evening peaks (smooth)."""
    h = tod_s / 3600.0
    morning = np.exp(-0.5 * ((h - 7.5) / 1.5) ** 2)
    evening = np.exp(-0.5 * ((h - 18.5) / 2.0) ** 2)
    return np.clip(0.15 + 0.7 * morning + 0.85 * evening, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class PiecewiseLinear:
    """A disturbance linear between knots ``(t_s, value)``, constant before the first and after the last."""

    t_s: tuple[float, ...]
    values: tuple[float, ...]

    def __call__(self, t: float) -> float:
        return float(np.interp(t, self.t_s, self.values))

    def integral(self) -> IntegratedPiecewiseLinear:
        return IntegratedPiecewiseLinear(self)


@dataclass(frozen=True, slots=True)
class IntegratedPiecewiseLinear:
    """∫ from the first knot to t of a piecewise-linear rate given per hour (for displacement, rain).

    ``rate`` values are per hour; the integral is exact (trapezoids), 0 before the first knot and
    growing linearly with the last rate after the last knot.
    """

    rate: PiecewiseLinear

    def __call__(self, t: float) -> float:
        ts, vs = self.rate.t_s, self.rate.values
        if t <= ts[0]:
            return 0.0
        total = 0.0
        for a, b, va, vb in zip(ts[:-1], ts[1:], vs[:-1], vs[1:], strict=True):
            if t <= a:
                break
            end = min(t, b)
            v_end = va + (vb - va) * (end - a) / (b - a) if b > a else vb
            total += 0.5 * (va + v_end) * (end - a) / 3600.0
        if t > ts[-1]:
            total += vs[-1] * (t - ts[-1]) / 3600.0
        return total


@dataclass(frozen=True, slots=True)
class ExponentialDecay:
    """``peak·exp(-(t-t0)/tau_s)`` from ``t0_s`` on, 0 before (a leak that was isolated at ``t0_s``)."""

    t0_s: float
    peak: float
    tau_s: float

    def __call__(self, t: float) -> float:
        return 0.0 if t < self.t0_s else self.peak * math.exp(-(t - self.t0_s) / self.tau_s)


class SignalModel(ABC):
    """Signals of every sensor of one kind. ``sample`` is called once per tick, in increasing time."""

    kind: str

    def __init__(self, sensors: Sequence[Sensor], rng: np.random.Generator, t0_epoch_s: float) -> None:
        self.sensors = list(sensors)
        self.n = len(self.sensors)
        self.rng = rng
        self.t0_epoch_s = t0_epoch_s
        self.disturbances: list[tuple[int, Disturbance]] = []

    def add_disturbance(self, index: int, fn: Disturbance) -> None:
        """Add ``fn(t_s)`` to sensor ``index`` (position within this kind) in the model's quantity."""
        if not 0 <= index < self.n:
            raise IndexError(f"{self.kind}: no sensor at index {index}")
        self.disturbances.append((index, fn))

    def _disturbance(self, t_s: F64) -> F64:
        out = np.zeros(self.n)
        for i, fn in self.disturbances:
            out[i] += fn(float(t_s[i]))
        return out

    def _tod(self, t_s: F64) -> F64:
        return (self.t0_epoch_s + t_s) % DAY_S

    @abstractmethod
    def sample(self, t_s: F64) -> F64:
        """Values at times ``t_s`` (one per sensor): shape (n,) or (n, channels), not yet rounded."""


class ConcentrationModel(SignalModel):
    """Gas concentration near a clean-air baseline: slow drift plus white noise, never below 0."""

    def __init__(
        self,
        sensors: Sequence[Sensor],
        rng: np.random.Generator,
        t0_epoch_s: float,
        *,
        kind: str,
        base: tuple[float, float],
        drift: float,
        noise: float,
        rel_noise: float = 0.01,
    ) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.kind = kind
        self.base = rng.uniform(*base, self.n)
        self.drift = drift * rng.uniform(0.5, 1.0, self.n)
        self.period_s = rng.uniform(1800.0, 5400.0, self.n)
        self.phase = rng.uniform(0, 2 * np.pi, self.n)
        self.noise = noise
        #: noise σ proportional to the disturbance, per sensor (a scenario may quieten one incident)
        self.rel_noise = np.full(self.n, rel_noise)

    def sample(self, t_s: F64) -> F64:
        clean = self.base + self.drift * np.sin(2 * np.pi * t_s / self.period_s + self.phase)
        extra = self._disturbance(t_s)
        sigma = self.noise + self.rel_noise * np.abs(extra)
        return np.maximum(clean + extra + sigma * self.rng.standard_normal(self.n), 0.0)


class ToxicGasModel(ConcentrationModel):
    """Toxic gas in mg/m³: baseline at 1-4 % of the sensor's first alarm, noise 0.5 % of it."""

    def __init__(self, sensors: Sequence[Sensor], rng: np.random.Generator, t0_epoch_s: float) -> None:
        super().__init__(
            sensors, rng, t0_epoch_s, kind="toxic_gas", base=(0.01, 0.04), drift=0.005, noise=0.0
        )
        self.scale = _param(self.sensors, "first_alarm_mgm3", 10.0)
        self.base *= self.scale
        self.drift *= self.scale

    def sample(self, t_s: F64) -> F64:
        clean = self.base + self.drift * np.sin(2 * np.pi * t_s / self.period_s + self.phase)
        noise = 0.005 * self.scale * self.rng.standard_normal(self.n)
        return np.maximum(clean + self._disturbance(t_s) + noise, 0.0)


class SlowDriftModel(SignalModel):
    """A process value around a per-sensor level: slow sine drift (hours) plus white noise."""

    def __init__(
        self,
        sensors: Sequence[Sensor],
        rng: np.random.Generator,
        t0_epoch_s: float,
        *,
        kind: str,
        level: F64,
        amplitude: F64,
        noise: F64,
        period_s: tuple[float, float] = (7200.0, 28800.0),
        lo: float = -np.inf,
    ) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.kind = kind
        self.level, self.amplitude, self.noise = level, amplitude, noise
        self.period_s = rng.uniform(*period_s, self.n)
        self.phase = rng.uniform(0, 2 * np.pi, self.n)
        self.lo = lo

    def sample(self, t_s: F64) -> F64:
        clean = self.level + self.amplitude * np.sin(2 * np.pi * t_s / self.period_s + self.phase)
        noisy = clean + self._disturbance(t_s) + self.noise * self.rng.standard_normal(self.n)
        return np.maximum(noisy, self.lo)


class PipelinePressureModel(SignalModel):
    """Pressure around ``nominal_kpa``, sagging up to 3 % with the day's demand; noise 0.05 % of nominal.

    The demand cycle follows the time of day, so its slope stays below 0.02 %/min, far under the
    0.5 %/min blue drop rate. Disturbance = fraction of nominal taken off (a leak's pressure drop).
    """

    kind = "pipeline_pressure"
    NOISE_FRACTION = 0.0005
    SAG_FRACTION = 0.03

    def __init__(self, sensors: Sequence[Sensor], rng: np.random.Generator, t0_epoch_s: float) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.nominal = _param(self.sensors, "nominal_kpa", 300.0)
        self.offset = rng.uniform(-0.01, 0.01, self.n)  # regulator set a little off nominal

    def sample(self, t_s: F64) -> F64:
        sag = self.SAG_FRACTION * diurnal_demand(self._tod(t_s))
        frac = 1.0 + self.offset - sag - self._disturbance(t_s)
        return self.nominal * (frac + self.NOISE_FRACTION * self.rng.standard_normal(self.n))


class PipelineFlowModel(SignalModel):
    """Flow following the day's demand between 35 % and 100 % of ``nominal_nm3h``, noise 1 %."""

    kind = "pipeline_flow"

    def __init__(self, sensors: Sequence[Sensor], rng: np.random.Generator, t0_epoch_s: float) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.nominal = _param(self.sensors, "nominal_nm3h", 1000.0)

    def sample(self, t_s: F64) -> F64:
        demand = 0.35 + 0.65 * diurnal_demand(self._tod(t_s))
        noisy = demand * (1.0 + 0.01 * self.rng.standard_normal(self.n))
        return self.nominal * noisy + self._disturbance(t_s)


class DisplacementModel(SignalModel):
    """Cumulative displacement = offset + v̄·t + disturbance + white noise (σ = ``noise_mm``).

    ``v_bar_mm_per_h`` is the constant-velocity rate of the point (0 for a stable slope); the offset is
    what the point had moved before the scenario started.
    """

    def __init__(
        self, sensors: Sequence[Sensor], rng: np.random.Generator, t0_epoch_s: float, *, kind: str
    ) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.kind = kind
        self.v_bar = _param(self.sensors, "v_bar_mm_per_h", 1.0)
        self.sigma = _param(self.sensors, "noise_mm", 0.02)
        self.offset = rng.uniform(5.0, 150.0, self.n)

    def sample(self, t_s: F64) -> F64:
        trend = self.v_bar * t_s / 3600.0
        return self.offset + trend + self._disturbance(t_s) + self.sigma * self.rng.standard_normal(self.n)


class RainGaugeModel(SignalModel):
    """Tipping-bucket gauges reporting mm since their previous reading.

    Light drizzle comes in area-wide episodes (10-60 min, 0.2-2 mm/h, about 10 % of the time): at most
    2 mm/h means at most 24 mm in any 12 h, so a clean gauge can never reach the 50 mm blue sum.
    Disturbance = cumulative extra rain (mm) since the start, e.g. a local cloudburst.
    """

    kind = "rain_gauge"
    MAX_DRIZZLE_MM_PER_H = 2.0

    def __init__(
        self,
        sensors: Sequence[Sensor],
        rng: np.random.Generator,
        t0_epoch_s: float,
        areas: Sequence[str] | None = None,
    ) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        names = sorted({s.area for s in self.sensors}) if areas is None else list(areas)
        self.area_of = np.array([names.index(s.area) for s in self.sensors], dtype=np.int64)
        n_areas = max(1, len(names))
        self.bucket = _param(self.sensors, "bucket_mm", 0.1)
        self.gain = rng.uniform(0.7, 1.0, self.n)  # local catch relative to the area's intensity
        self.area_intensity = np.zeros(n_areas)  # mm/h
        self.area_left_s = np.zeros(n_areas)  # remaining time of the current dry or wet spell
        self.area_wet = np.zeros(n_areas, dtype=bool)
        self.last_t = np.full(self.n, np.nan)
        self.last_extra = np.zeros(self.n)
        self.acc = np.zeros(self.n)  # water in the bucket, not yet tipped

    def _advance_weather(self, dt_s: float) -> None:
        self.area_left_s -= dt_s
        ended = self.area_left_s <= 0
        if not ended.any():
            return
        k = int(ended.sum())
        # a dry spell ends with rain starting and the other way round; dry spells ~5x longer
        self.area_wet[ended] = ~self.area_wet[ended]
        wet_len = self.rng.uniform(600.0, 3600.0, k)
        dry_len = self.rng.uniform(3000.0, 18000.0, k)
        self.area_left_s[ended] = np.where(self.area_wet[ended], wet_len, dry_len)
        self.area_intensity[ended] = np.where(
            self.area_wet[ended], self.rng.uniform(0.2, self.MAX_DRIZZLE_MM_PER_H, k), 0.0
        )

    def intensity(self) -> F64:
        """Current drizzle intensity per gauge (mm/h)."""
        return self.area_intensity[self.area_of] * self.gain

    def sample(self, t_s: F64) -> F64:
        first = np.isnan(self.last_t)
        if first.all():
            # random initial weather: each area somewhere inside a dry or wet spell
            n_areas = self.area_wet.size
            self.area_wet = self.rng.random(n_areas) < 0.15
            self.area_left_s = np.where(
                self.area_wet, self.rng.uniform(0, 3600.0, n_areas), self.rng.uniform(0, 18000.0, n_areas)
            )
            self.area_intensity = np.where(
                self.area_wet, self.rng.uniform(0.2, self.MAX_DRIZZLE_MM_PER_H, n_areas), 0.0
            )
            dt = np.zeros(self.n)
        else:
            dt = np.where(first, 0.0, t_s - self.last_t)
            self._advance_weather(float(np.median(dt)))
        extra_now = self._disturbance(t_s)
        rain = self.intensity() * dt / 3600.0 + (extra_now - self.last_extra)
        self.last_t, self.last_extra = t_s.copy(), extra_now
        self.acc += np.maximum(rain, 0.0)
        tips = np.floor(self.acc / self.bucket + 1e-9)
        out = tips * self.bucket
        self.acc -= out
        return out


class WaterDepthModel(SignalModel):
    """Standing water (cm) on a dry road or underpass: 0 with a little ultrasonic noise, never negative."""

    kind = "water_depth"

    def sample(self, t_s: F64) -> F64:
        return np.maximum(0.4 * self.rng.standard_normal(self.n) - 0.2, 0.0) + self._disturbance(t_s)


# --- elevators -------------------------------------------------------------------------------------

IDLE, BOARD, CLOSE, MOVE, ARRIVE, ALIGHT = range(6)
MAX_NORMAL_TRAVEL_TICKS = 8
#: longest normal trip cycle in ticks (board, close, travel, arrive, alight) + margin
MAX_TRIP_TICKS = MAX_NORMAL_TRAVEL_TICKS + 5
NORMAL_MAX_RATIO = 1.05


def travel_profile(k: int) -> list[float]:
    """Speed (fraction of rated) at each of ``k`` travel ticks: accelerate, cruise, decelerate."""
    if k <= 1:
        return [0.5]
    if k == 2:
        return [0.6, 0.5]
    return [0.5, *([1.0] * (k - 2)), 0.4]


class ElevatorStatusModel(SignalModel):
    """Lift cars as a vectorised per-tick state machine: speed_mps, door_open, in_door_zone, occupied.

    A trip is: board (door open, passenger in) → close (door closed, at rest) → travel (door closed,
    out of the door zone, speed ≤ 1.05 × rated) → arrive (door open at rest in the door zone) → alight
    (door open, car empty) → idle (door closed, empty, in the door zone). So the door only opens at rest
    in the door zone, occupancy only changes with the door open, and a car never stands still closed
    and occupied for more than one tick. Speeds are magnitudes (direction is not reported).
    """

    kind = "elevator_status"
    channels = KINDS["elevator_status"].channels

    def __init__(self, sensors: Sequence[Sensor], rng: np.random.Generator, t0_epoch_s: float) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.rated = _param(self.sensors, "rated_speed_mps", 1.0)
        floors = _param(self.sensors, "floors", 12.0)
        self.max_travel = np.clip(floors // 3, 1, MAX_NORMAL_TRAVEL_TICKS).astype(np.int64)
        self.phase = np.full(self.n, IDLE, dtype=np.int64)
        self.left = rng.integers(0, 12, self.n)  # ticks left in the current phase
        self.passenger = np.zeros(self.n, dtype=bool)
        self.profile = [list[float]() for _ in range(self.n)]  # travel speed ratios still to run
        self.scripted = np.zeros(self.n, dtype=bool)  # current trip is a scripted one (no ratio cap)
        self.tick = 0
        self.scripts: dict[int, list[tuple[int, list[float]]]] = {}  # index -> [(start tick, ratios)]
        self.moving = np.zeros(self.n, dtype=bool)

    def schedule_trip(self, index: int, start_tick: int, ratios: Sequence[float]) -> None:
        """Run a passenger trip with these travel speed ratios starting (boarding) at ``start_tick``.

        From ``MAX_TRIP_TICKS`` before, the car takes no new normal trips, so it is idle at the start.
        """
        if start_tick < MAX_TRIP_TICKS:
            raise ValueError(f"a scripted trip must start at tick ≥ {MAX_TRIP_TICKS}")
        self.scripts.setdefault(index, []).append((start_tick, list(ratios)))
        self.scripts[index].sort()

    def _script_due(self, i: int) -> tuple[bool, list[float] | None]:
        """(hold: no normal trip now, ratios if a script starts at this tick)."""
        for start, ratios in self.scripts.get(i, []):
            if start == self.tick:
                return True, ratios
            if start - MAX_TRIP_TICKS <= self.tick < start:
                return True, None
        return False, None

    def sample(self, t_s: F64) -> F64:
        rng = self.rng
        noise = rng.standard_normal(self.n)
        out = np.zeros((self.n, 4))
        # advance each car one tick (python loop over cars in a transition; cheap: phases last ticks)
        self.left -= 1
        due = set(np.flatnonzero((self.left < 0) | (self.phase == MOVE)).tolist()) | set(self.scripts)
        for i in sorted(due):
            self._advance(i)
        self.tick += 1
        ratio = np.zeros(self.n)
        moving = self.phase == MOVE
        for i in np.flatnonzero(moving).tolist():
            ratio[i] = self.profile[i][0]
        speed_ratio = ratio * (1.0 + 0.01 * noise)
        capped = moving & ~self.scripted
        speed_ratio[capped] = np.clip(speed_ratio[capped], 0.05, NORMAL_MAX_RATIO)
        out[:, 0] = np.where(moving, self.rated * speed_ratio, 0.0)
        out[:, 1] = np.isin(self.phase, (BOARD, ARRIVE, ALIGHT))
        out[:, 2] = ~moving
        out[:, 3] = np.isin(self.phase, (BOARD, CLOSE, MOVE, ARRIVE)) & self.passenger
        self.moving = moving
        return out

    def _advance(self, i: int) -> None:
        """Move car ``i`` to its next phase if its current phase is over (called once per tick)."""
        hold, script = self._script_due(i)
        ph = int(self.phase[i])
        if script is not None:
            if ph != IDLE:  # cannot happen: the car was held idle for MAX_TRIP_TICKS
                raise RuntimeError(f"elevator {self.sensors[i].sensor_id} not idle at its scripted trip")
            self.phase[i], self.left[i], self.passenger[i] = BOARD, 0, True
            self.profile[i], self.scripted[i] = list(script), True
            return
        if ph == MOVE:
            self.profile[i].pop(0)
            if self.profile[i]:
                return
            self.phase[i], self.left[i] = ARRIVE, 0
            return
        if self.left[i] >= 0:
            return
        if ph == IDLE:
            if hold:
                self.left[i] = 0
                return
            self.passenger[i] = bool(self.rng.random() < 0.8)
            k = int(self.rng.integers(1, int(self.max_travel[i]) + 1))
            self.profile[i], self.scripted[i] = travel_profile(k), False
            self.phase[i], self.left[i] = (BOARD if self.passenger[i] else CLOSE), 0
        elif ph == BOARD:
            self.phase[i], self.left[i] = CLOSE, 0
        elif ph == CLOSE:
            self.phase[i], self.left[i] = MOVE, 0
        elif ph == ARRIVE:
            self.phase[i], self.left[i] = (ALIGHT if self.passenger[i] else IDLE), 0
            if not self.passenger[i]:
                self.left[i] = int(self.rng.integers(2, 24))
        elif ph == ALIGHT:
            self.phase[i], self.left[i] = IDLE, int(self.rng.integers(2, 24))
            self.passenger[i] = False


class ElevatorVibrationModel(SignalModel):
    """Car vibration peak-to-peak (m/s²), z and xy: quiet at rest, higher while travelling.

    A vibration sensor naming its car in ``params.car_status_sensor`` follows that car's motion; others
    travel on their own ~30 % duty cycle. Values stay under 0.22 (z) and 0.15 (xy), well inside the
    GB/T 10058 ride limits 0.30 and 0.20.
    """

    kind = "elevator_vibration"

    def __init__(
        self,
        sensors: Sequence[Sensor],
        rng: np.random.Generator,
        t0_epoch_s: float,
        status: ElevatorStatusModel | None = None,
    ) -> None:
        super().__init__(sensors, rng, t0_epoch_s)
        self.status = status
        ids = {} if status is None else {s.sensor_id: j for j, s in enumerate(status.sensors)}
        self.car = np.array([ids.get(str(s.params.get("car_status_sensor", "")), -1) for s in self.sensors])
        self.own_moving = np.zeros(self.n, dtype=bool)

    def sample(self, t_s: F64) -> F64:
        flip = self.rng.random(self.n) < np.where(self.own_moving, 0.3, 0.13)
        self.own_moving ^= flip
        moving = self.own_moving.copy()
        if self.status is not None:
            paired = self.car >= 0
            moving[paired] = self.status.moving[self.car[paired]]
        n = self.n
        z = np.where(moving, 0.08 + 0.025 * np.abs(self.rng.standard_normal(n)), 0.012)
        xy = np.where(moving, 0.05 + 0.015 * np.abs(self.rng.standard_normal(n)), 0.008)
        z = np.clip(z + 0.002 * self.rng.standard_normal(n), 0.005, 0.22)
        xy = np.clip(xy + 0.002 * self.rng.standard_normal(n), 0.003, 0.15)
        return np.stack([z, xy], axis=1)


# --- the bank of all models ------------------------------------------------------------------------


def build_model(
    kind: str,
    sensors: Sequence[Sensor],
    rng: np.random.Generator,
    t0_epoch_s: float,
    models: dict[str, SignalModel],
) -> SignalModel:
    """The signal model of ``kind`` (``models``: the models built before it, in KINDS order)."""
    n = len(sensors)
    u = rng.uniform
    if kind == "combustible_gas":
        return ConcentrationModel(sensors, rng, t0_epoch_s, kind=kind, base=(0.5, 2.0), drift=0.3, noise=0.25)
    if kind == "well_methane":
        m = ConcentrationModel(sensors, rng, t0_epoch_s, kind=kind, base=(0.0, 1.0), drift=0.2, noise=0.2)
        sewer = np.array([s.params.get("well_type") == "sewer" for s in sensors], dtype=bool)
        m.base[sewer] += 1.0  # biogas background in sewer wells
        return m
    if kind == "tunnel_methane":
        return ConcentrationModel(sensors, rng, t0_epoch_s, kind=kind, base=(0.0, 0.5), drift=0.1, noise=0.1)
    if kind == "toxic_gas":
        return ToxicGasModel(sensors, rng, t0_epoch_s)
    if kind == "tank_level":
        return SlowDriftModel(
            sensors, rng, t0_epoch_s, kind=kind, level=u(35, 65, n), amplitude=u(2, 10, n),
            noise=np.full(n, 0.05), lo=0.0,
        )  # fmt: skip
    if kind == "tank_temperature":
        return SlowDriftModel(
            sensors, rng, t0_epoch_s, kind=kind, level=u(18, 32, n), amplitude=u(0.5, 2.0, n),
            noise=np.full(n, 0.05),
        )  # fmt: skip
    if kind == "tank_pressure":
        relief = _param(sensors, "relief_set_mpa", 1.0)
        return SlowDriftModel(
            sensors, rng, t0_epoch_s, kind=kind, level=relief * u(0.55, 0.72, n),
            amplitude=relief * u(0.005, 0.02, n), noise=relief * 0.002, lo=0.0,
        )  # fmt: skip
    if kind == "pipeline_pressure":
        return PipelinePressureModel(sensors, rng, t0_epoch_s)
    if kind == "pipeline_flow":
        return PipelineFlowModel(sensors, rng, t0_epoch_s)
    if kind in ("gnss_displacement", "crack_meter"):
        return DisplacementModel(sensors, rng, t0_epoch_s, kind=kind)
    if kind == "groundwater_level":
        depth = _param(sensors, "mean_depth_m", 8.0)
        return SlowDriftModel(
            sensors, rng, t0_epoch_s, kind=kind, level=depth, amplitude=u(0.01, 0.05, n),
            noise=np.full(n, 0.003), period_s=(21600.0, 86400.0), lo=0.0,
        )  # fmt: skip
    if kind == "rain_gauge":
        return RainGaugeModel(sensors, rng, t0_epoch_s)
    if kind == "water_depth":
        return WaterDepthModel(sensors, rng, t0_epoch_s)
    if kind == "elevator_status":
        return ElevatorStatusModel(sensors, rng, t0_epoch_s)
    if kind == "elevator_vibration":
        status = models.get("elevator_status")
        return ElevatorVibrationModel(
            sensors, rng, t0_epoch_s, status if isinstance(status, ElevatorStatusModel) else None
        )
    raise ValueError(f"no signal model for kind {kind!r}")


@dataclass(frozen=True, slots=True)
class TickColumns:
    """All readings of one tick, columnar, in registry row order (design.md §5 batch layout)."""

    tick: int
    tick_ts_ms: int
    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: F64  # (n, VALUE_COLUMNS), single-channel in column 0, unused NaN


class SignalBank:
    """Every sensor of a registry: one model per kind, sampled together once per tick.

    Sensor ``row`` reads at ``start_ts_ms + tick·tick_ms + offset_ms[row]``, with a fixed per-sensor
    offset below ``min(1000, tick_ms/2)`` ms, so readings of one tick are not all stamped alike.
    """

    def __init__(self, registry: Registry, seed: int, start_ts_ms: int, tick_ms: int) -> None:
        if tick_ms <= 0:
            raise ValueError("tick_ms must be positive")
        self.registry = registry
        self.start_ts_ms = int(start_ts_ms)
        self.tick_ms = int(tick_ms)
        self.tick = 0
        n = len(registry)
        jitter = np.random.default_rng([seed, 0x7157])
        self.offset_ms = jitter.integers(0, max(1, min(1000, tick_ms // 2)), n).astype(np.int64)
        self.models: dict[str, SignalModel] = {}
        self.rows_of: dict[str, NDArray[np.int32]] = {}
        self.row_in_kind = np.zeros(n, dtype=np.int64)
        for ki, kind in enumerate(KINDS):
            rows = registry.rows_of_kind(kind)
            if rows.size == 0:
                continue
            sensors = [registry.sensors[r] for r in rows]
            rng = np.random.default_rng([seed, 0x51C, ki])
            self.models[kind] = build_model(kind, sensors, rng, self.start_ts_ms / 1000.0, self.models)
            self.rows_of[kind] = rows
            self.row_in_kind[rows] = np.arange(rows.size)
        self._rows = np.arange(n, dtype=np.int32)

    def model_of(self, sensor_id: str) -> tuple[SignalModel, int]:
        """The model holding ``sensor_id`` and the sensor's index within it."""
        row = self.registry.index[sensor_id]
        return self.models[self.registry.sensors[row].kind], int(self.row_in_kind[row])

    def tick_seconds(self, tick: int) -> float:
        return tick * self.tick_ms / 1000.0

    def next(self) -> TickColumns:
        """Sample every sensor for the next tick."""
        tick = self.tick
        base = self.start_ts_ms + tick * self.tick_ms
        ts = base + self.offset_ms
        t_s = (ts - self.start_ts_ms) / 1000.0
        values = np.full((len(self.registry), VALUE_COLUMNS), np.nan)
        for kind, model in self.models.items():
            rows = self.rows_of[kind]
            v = np.round(model.sample(t_s[rows]), DECIMALS[kind])
            if v.ndim == 1:
                values[rows, 0] = v
            else:
                values[rows, : v.shape[1]] = v
        values[values == 0.0] = 0.0  # no negative zeros in the output
        self.tick += 1
        return TickColumns(tick, base, self._rows, ts, values)
