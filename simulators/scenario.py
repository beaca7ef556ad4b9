"""Labelled scenarios: a registry, clean signals for every sensor, incidents with the level each must reach.

A :class:`Scenario` is deterministic from its seed. It plans incidents on a few sensors of each rule's
kinds (different sites where possible, each incident on its own sensor) and yields ticks:

    for ts_ms, payloads in scenario.ticks():   # payloads: gateway_id -> BatchPayload v1 dict
        ...

``Scenario.expected()`` lists the incidents. Each incident's ``expected_level`` is the highest level its
rule must reach on that sensor during the run; every other (sensor, rule) must stay ``normal``. The
shapes are chosen so that the level does not depend on noise or on window-edge conventions (see
docs/simulators.md and :mod:`simulators.oracle`, which re-checks the labels from the raw signal).

Rules (as specified for the detectors, with the set points in each sensor's registry params):

* ``gas_two_stage`` (combustible_gas): blue ≥ prealarm_ratio·first_alarm_lel, yellow ≥ first,
  orange ≥ second_alarm_lel, red ≥ second and rising vs the previous reading;
* ``rainstorm`` (rain_gauge): red sum3h ≥ 100 mm, orange sum3h ≥ 50, yellow sum6h ≥ 50, blue sum12h ≥ 50;
* ``elevator_overspeed`` (elevator_status speed_mps / rated_speed_mps): orange ≥ 1.2, red ≥ 1.4, each
  after 2 consecutive readings;
* ``landslide_tangent_angle`` (gnss_displacement, crack_meter): α = atan(v/v̄) with v the 600 s
  least-squares rate; yellow ≥ 55°, orange ≥ 80°, red ≥ 85°, each after 3 consecutive readings;
* ``pipeline_pressure_drop`` (pipeline_pressure): 60 s least-squares drop in % of nominal per minute;
  blue ≥ 0.5, yellow ≥ 1, orange ≥ 2, red ≥ 5, each after 3 consecutive readings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Level
from simulators.malformed import DEFAULT_TOPIC_PREFIX, MalformedExample, malformed_examples
from simulators.registry_gen import (
    ELEVATOR_DEFAULTS,
    GAS_DEFAULTS,
    LANDSLIDE_DEFAULTS,
    PIPELINE_DEFAULTS,
    RAIN_DEFAULTS,
    make_registry,
    setpoints,
)
from simulators.signals import (
    MAX_TRIP_TICKS,
    ConcentrationModel,
    ElevatorStatusModel,
    ExponentialDecay,
    PiecewiseLinear,
    RainGaugeModel,
    SignalBank,
    TickColumns,
)

#: 2026-07-01T00:00:00Z: the fixed start of test scenarios (the live demo starts now)
DEFAULT_START_TS_MS = 1_782_864_000_000
DEFAULT_DURATION_S = 2400.0
DEFAULT_TICK_MS = 5000
DEFAULT_SENSORS = 400
DEFAULT_SEED = 1
#: gateway id used for sensors whose registry row names no gateway
FALLBACK_GATEWAY = "sim-gw"

RULE_KINDS: dict[str, tuple[str, ...]] = {
    "gas_two_stage": ("combustible_gas",),
    "rainstorm": ("rain_gauge",),
    "elevator_overspeed": ("elevator_status",),
    "landslide_tangent_angle": ("gnss_displacement", "crack_meter"),
    "pipeline_pressure_drop": ("pipeline_pressure",),
}

#: levels each rule's incidents cover, most severe first (a small registry gets the first few)
RULE_LEVELS: dict[str, tuple[Level, ...]] = {
    "gas_two_stage": (Level.RED, Level.ORANGE, Level.YELLOW, Level.BLUE),
    "pipeline_pressure_drop": (Level.RED, Level.ORANGE, Level.YELLOW, Level.BLUE),
    "landslide_tangent_angle": (Level.RED, Level.ORANGE, Level.YELLOW),
    "rainstorm": (Level.RED, Level.ORANGE, Level.YELLOW, Level.BLUE),
    "elevator_overspeed": (Level.RED, Level.ORANGE),
}

# Incident shapes (seconds unless named otherwise). Peaks sit inside the labelled band, computed from
# each sensor's own set points (registry params, rule defaults where absent).
GAS_RAMP_S, GAS_HOLD_S, GAS_FALL_S = 120.0, 180.0, 180.0
GAS_RED_OVER_SECOND = 15.0  # red peak: second alarm + 15 %LEL, reached by a ramp (rising at ≥ second)
GAS_ORANGE_OVER_SECOND = 12.0  # orange: starts at second + 12 and only decays (never rising ≥ second)
GAS_DECAY_TICKS = 12  # decay time constant of the orange incident, in ticks
PIPE_DROP_S: dict[Level, float] = {
    Level.BLUE: 360.0,
    Level.YELLOW: 300.0,
    Level.ORANGE: 240.0,
    Level.RED: 180.0,
}
PIPE_RED_FACTOR = 1.6  # red drop rate = 1.6 × red set point (8 %/min by default)
PIPE_RECOVER_PCT_PER_MIN = 2.0
SLIDE_RAMP_S = 120.0
SLIDE_HOLD_EXTRA_S = 240.0  # the accelerated rate is held for the fit window plus this
RAIN_BURST_S: dict[Level, float] = {
    Level.RED: 1500.0,
    Level.ORANGE: 900.0,
    Level.YELLOW: 5.0 * 3600,  # 5 h of steady rain: all of it within 6 h, two thirds at most in any 3 h
    Level.BLUE: 10.0 * 3600,  # 10 h: all of it within 12 h, two thirds at most in any 6 h
}
RAIN_RAMP_FRACTION = 0.1  # intensity ramps up and down over a tenth of the burst each
LIFT_PROFILE_ORANGE = (0.5, 1.0, None, None, None, None, 1.0, 0.4)  # None: the overspeed ratio
LIFT_PROFILE_RED = (0.5, 1.0, "orange", None, None, None, None, 1.2, 0.5)
LIFT_RED_OVER = 0.15  # red trip: red_ratio + 0.15 (1.55 × rated by default)
LANDSLIDE_MIN_V_BAR = 0.05


def pipeline_drop_rate(level: Level, sp: dict[str, float]) -> float:
    """Drop rate (%/min) in the middle of ``level``'s band (red: 1.6 × its set point)."""
    b, y, o, r = (sp[f"{c}_pct_per_min"] for c in ("blue", "yellow", "orange", "red"))
    return {Level.BLUE: (b + y) / 2, Level.YELLOW: (y + o) / 2, Level.ORANGE: (o + r) / 2}.get(
        level, PIPE_RED_FACTOR * r
    )


def landslide_factor(level: Level, sp: dict[str, float]) -> float:
    """Rate as a multiple of v̄ whose tangent angle is mid-band (2.41, 7.6 and 22.9 by default)."""
    yellow, orange, red = 45.0 + sp["margin_deg"], sp["orange_deg"], sp["red_deg"]
    mid = {Level.YELLOW: (yellow + orange) / 2, Level.ORANGE: (orange + red) / 2}.get(level, (red + 90.0) / 2)
    return round(math.tan(math.radians(mid)), 2)


def rain_total_mm(level: Level, sp: dict[str, float]) -> float:
    """Rain of a burst: 125 mm (red), 65 mm (orange), 56 mm (yellow, blue) with the CMA set points.

    Yellow and blue bursts are long and steady (5 h, 10 h), so the shorter windows catch at most
    ~37 mm of their 56 mm.
    """
    return {
        Level.RED: 1.25 * sp["red_3h_mm"],
        Level.ORANGE: sp["orange_3h_mm"] + 0.3 * (sp["red_3h_mm"] - sp["orange_3h_mm"]),
        Level.YELLOW: 1.12 * sp["yellow_6h_mm"],
    }.get(level, 1.12 * sp["blue_12h_mm"])


def lift_ratios(level: Level, sp: dict[str, float]) -> tuple[float, ...]:
    """Travel speed ratios of an overspeed trip: cruising mid-band (orange) or 0.15 above red."""
    orange, red = sp["orange_ratio"], sp["red_ratio"]
    if level == Level.ORANGE:
        over = round((orange + red) / 2, 3)
        return tuple(over if r is None else r for r in LIFT_PROFILE_ORANGE)
    over = round(red + LIFT_RED_OVER, 3)
    mid = round((orange + red) / 2, 3)
    return tuple(over if r is None else mid if r == "orange" else float(r) for r in LIFT_PROFILE_RED)


@dataclass(frozen=True, slots=True)
class Incident:
    """One labelled incident: ``rule`` must reach exactly ``expected_level`` on ``sensor_id``.

    ``start_ts_ms``/``end_ts_ms`` bound the disturbance in the signal (event time); alarms computed
    over trailing windows can outlast ``end_ts_ms`` by the window length plus the rule's hysteresis.
    """

    sensor_id: str
    rule: str
    expected_level: str
    start_ts_ms: int
    end_ts_ms: int
    description: str

    @property
    def level(self) -> Level:
        return Level.parse(self.expected_level)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Planned:
    incident: Incident
    install: Callable[[SignalBank], None]


@dataclass(frozen=True, slots=True)
class ScenarioFiles:
    registry: Path
    readings: Path
    incidents: Path
    scenario: Path
    n_readings: int


@dataclass(slots=True)
class _GatewayLayout:
    rows: list[list[int]] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)


class Scenario:
    """A registry, clean signals and labelled incidents; iterate with :meth:`ticks` or :meth:`frames`."""

    def __init__(
        self,
        registry: Registry,
        *,
        seed: int = DEFAULT_SEED,
        start_ts_ms: int = DEFAULT_START_TS_MS,
        duration_s: float = DEFAULT_DURATION_S,
        tick_ms: int = DEFAULT_TICK_MS,
        with_incidents: bool = True,
    ) -> None:
        if tick_ms <= 0 or duration_s <= 0:
            raise ValueError("tick_ms and duration_s must be positive")
        if len(registry) == 0:
            raise ValueError("the registry has no sensors")
        self.registry = registry
        self.seed = int(seed)
        self.start_ts_ms = int(start_ts_ms)
        self.duration_s = float(duration_s)
        self.tick_ms = int(tick_ms)
        self.n_ticks = max(1, int(self.duration_s * 1000 // self.tick_ms))
        self._planned: list[_Planned] = self._plan() if with_incidents else []
        self._layout = self._gateway_layout()

    @classmethod
    def generate(
        cls,
        n_sensors: int = DEFAULT_SENSORS,
        seed: int = DEFAULT_SEED,
        *,
        gateways: int | None = None,
        **kwargs: Any,
    ) -> Scenario:
        """A scenario on a fresh :func:`~simulators.registry_gen.make_registry` registry of the same seed."""
        return cls(make_registry(n_sensors, seed=seed, gateways=gateways), seed=seed, **kwargs)

    # --- labels --------------------------------------------------------------------------------------

    def expected(self) -> list[Incident]:
        """The labelled incidents, ordered by start time."""
        return sorted((p.incident for p in self._planned), key=lambda i: (i.start_ts_ms, i.sensor_id))

    @property
    def end_ts_ms(self) -> int:
        return self.start_ts_ms + self.n_ticks * self.tick_ms

    def malformed(
        self, topic_prefix: str = DEFAULT_TOPIC_PREFIX, max_bytes: int | None = None
    ) -> list[MalformedExample]:
        """Bad payloads on this registry with the dead-letter reason each must get
        (:func:`simulators.malformed.malformed_examples`), stamped one tick after the run's end so their
        good readings never interleave with the scenario's."""
        return malformed_examples(self.registry, self.end_ts_ms + self.tick_ms, topic_prefix, max_bytes)

    def incident_sensors(self) -> set[str]:
        return {p.incident.sensor_id for p in self._planned}

    def _plan(self) -> list[_Planned]:
        rng = np.random.default_rng([self.seed, 0x1C1D])
        planned: list[_Planned] = []
        used: set[str] = set()
        for rule, kinds in RULE_KINDS.items():
            candidates = [s for s in self.registry if s.kind in kinds and self._eligible(rule, s)]
            levels = [lv for lv in RULE_LEVELS[rule] if self._fits(rule, lv)]
            if not candidates or not levels:
                continue
            n_inc = min(len(candidates) // 5, max(len(levels), round(0.03 * len(candidates))))
            if n_inc == 0 and len(candidates) >= 2:
                n_inc = 1
            chosen = _spread_pick(candidates, n_inc, rng, used)
            for j, sensor in enumerate(chosen):
                planned.append(self._make(rule, levels[j % len(levels)], sensor, rng))
                used.add(sensor.sensor_id)
        return planned

    def _eligible(self, rule: str, s: Sensor) -> bool:
        if rule == "landslide_tangent_angle":
            return float(s.params.get("v_bar_mm_per_h", 0.0)) >= LANDSLIDE_MIN_V_BAR
        return True

    def _fits(self, rule: str, level: Level) -> bool:
        """Whether an incident of this level fits the run: long enough, and ticks fine enough for the
        rule's fit window to hold enough readings to see it unambiguously."""
        d = self.duration_s
        per_s = 1000.0 / self.tick_ms  # readings per second
        if rule == "gas_two_stage":
            return d >= GAS_RAMP_S + GAS_HOLD_S + GAS_FALL_S + 120 if level != Level.ORANGE else d >= 120
        if rule == "pipeline_pressure_drop":
            window = PIPELINE_DEFAULTS["rate_window_s"] * per_s
            return d >= PIPE_DROP_S[level] + 180 and window >= PIPELINE_DEFAULTS["min_points"] + 3
        if rule == "landslide_tangent_angle":
            window = LANDSLIDE_DEFAULTS["fit_window_s"] * per_s
            length = 2 * SLIDE_RAMP_S + LANDSLIDE_DEFAULTS["fit_window_s"] + SLIDE_HOLD_EXTRA_S
            return d >= length + 300 and window >= 2 * LANDSLIDE_DEFAULTS["min_points"]
        if rule == "rainstorm":
            return d >= RAIN_BURST_S[level] + 300
        if rule == "elevator_overspeed":
            return self.n_ticks >= MAX_TRIP_TICKS + len(LIFT_PROFILE_RED) + 8
        return False

    def _ts(self, t_s: float) -> int:
        """Event time of ``t_s`` seconds into the run (label ends are clipped to the run's end)."""
        return min(self.start_ts_ms + round(t_s * 1000), self.end_ts_ms)

    def _start_between(self, rng: np.random.Generator, lo: float, length: float, tail: float = 60.0) -> float:
        hi = max(lo, self.duration_s - length - tail)
        return round(float(rng.uniform(lo, hi)), 1)

    def _make(self, rule: str, level: Level, s: Sensor, rng: np.random.Generator) -> _Planned:
        sid = s.sensor_id
        if rule == "gas_two_stage":
            return self._gas(level, s, rng)
        if rule == "pipeline_pressure_drop":
            sp = setpoints(s.params, PIPELINE_DEFAULTS)
            rate = pipeline_drop_rate(level, sp)
            drop_s = max(PIPE_DROP_S[level], sp["rate_window_s"] + 120.0)
            depth = rate / 100.0 * drop_s / 60.0
            recover_s = depth * 100.0 / PIPE_RECOVER_PCT_PER_MIN * 60.0
            t0 = self._start_between(rng, 120.0, drop_s + 90.0)
            shape = PiecewiseLinear((t0, t0 + drop_s, t0 + drop_s + recover_s), (0.0, depth, 0.0))
            desc = (
                f"pressure falls linearly at {rate:g} %/min of nominal {sp['nominal_kpa']:g} kPa "
                f"for {drop_s / 60:g} min ({depth * 100:.1f} % in all), then recovers at "
                f"{PIPE_RECOVER_PCT_PER_MIN:g} %/min"
            )
            return _Planned(
                Incident(sid, rule, level.label, self._ts(t0), self._ts(t0 + drop_s + recover_s), desc),
                _disturb(sid, shape),
            )
        if rule == "landslide_tangent_angle":
            sp = setpoints(s.params, LANDSLIDE_DEFAULTS)
            k = landslide_factor(level, sp)
            v_bar = sp["v_bar_mm_per_h"]
            hold_s = sp["fit_window_s"] + SLIDE_HOLD_EXTRA_S
            length = 2 * SLIDE_RAMP_S + hold_s
            t0 = self._start_between(rng, 120.0, length)
            knots = (t0, t0 + SLIDE_RAMP_S, t0 + SLIDE_RAMP_S + hold_s, t0 + length)
            extra_rate = PiecewiseLinear(knots, (0.0, (k - 1) * v_bar, (k - 1) * v_bar, 0.0))
            alpha = math.degrees(math.atan(k))
            desc = (
                f"slope accelerates from v̄ = {v_bar:g} mm/h to {k:g}·v̄ (α ≈ {alpha:.1f}°) over "
                f"{SLIDE_RAMP_S / 60:g} min, holds {hold_s / 60:g} min, slows back to v̄"
            )
            return _Planned(
                Incident(sid, rule, level.label, self._ts(t0), self._ts(t0 + length), desc),
                _disturb(sid, extra_rate.integral()),
            )
        if rule == "rainstorm":
            total = rain_total_mm(level, setpoints(s.params, RAIN_DEFAULTS))
            length = RAIN_BURST_S[level]
            ramp = length * RAIN_RAMP_FRACTION
            t0 = self._start_between(rng, 60.0, length)
            peak = total * 3600.0 / (length - ramp)  # trapezoid of intensity (mm/h) holding `total`
            rate = PiecewiseLinear((t0, t0 + ramp, t0 + length - ramp, t0 + length), (0.0, peak, peak, 0.0))
            desc = f"local downpour of {total:g} mm in {length / 60:g} min (peak {peak:.0f} mm/h)"
            return _Planned(
                Incident(sid, rule, level.label, self._ts(t0), self._ts(t0 + length), desc),
                _rain(sid, rate.integral()),
            )
        if rule == "elevator_overspeed":
            sp = setpoints(s.params, ELEVATOR_DEFAULTS)
            ratios = lift_ratios(level, sp)
            first = MAX_TRIP_TICKS + 1
            last = max(first, self.n_ticks - len(ratios) - 6)
            tick = int(rng.integers(first, last + 1))
            peak = max(ratios)
            over = sum(r >= sp["orange_ratio"] for r in ratios)
            desc = (
                f"governor fault on a trip: car reaches {peak:g}× rated {sp['rated_speed_mps']:g} m/s "
                f"({peak * sp['rated_speed_mps']:.2f} m/s), {over} readings at ≥ {sp['orange_ratio']:g}×, "
                "doors closed"
            )
            end_tick = tick + 2 + len(ratios) + 1  # board, close, travel…, arrive, alight
            return _Planned(
                Incident(sid, rule, level.label, self._tick_ts(tick), self._tick_ts(end_tick), desc),
                _lift(sid, tick, ratios),
            )
        raise ValueError(f"unknown rule {rule!r}")

    def _tick_ts(self, tick: int) -> int:
        return self.start_ts_ms + tick * self.tick_ms

    def _gas(self, level: Level, s: Sensor, rng: np.random.Generator) -> _Planned:
        sid = s.sensor_id
        p = setpoints(s.params, GAS_DEFAULTS)
        first, second, pre = p["first_alarm_lel"], p["second_alarm_lel"], p["prealarm_ratio"]
        if level == Level.ORANGE:
            tau = GAS_DECAY_TICKS * self.tick_ms / 1000.0
            peak = second + GAS_ORANGE_OVER_SECOND
            decay = ExponentialDecay(0.0, peak, tau)
            end = tau * math.log(peak / 0.5)
            desc = (
                f"leak already under way when monitoring starts: {peak:g} %LEL (second alarm {second:g}) "
                f"at the first reading, then only decays (τ = {tau:g} s), never rising at or above {second:g}"
            )
            return _Planned(
                Incident(sid, "gas_two_stage", level.label, self._ts(0.0), self._ts(end), desc),
                _disturb(sid, decay, rel_noise=0.002),
            )
        if level == Level.RED:
            peak = second + GAS_RED_OVER_SECOND
            what = f"ramps through the second alarm {second:g} to {peak:g} %LEL (rising above it)"
        elif level == Level.YELLOW:
            peak = (first + second) / 2
            what = f"ramps to {peak:g} %LEL, between first alarm {first:g} and second {second:g}"
        else:
            peak = (pre * first + first) / 2
            what = f"ramps to {peak:g} %LEL, between pre-alarm {pre * first:g} and first alarm {first:g}"
        length = GAS_RAMP_S + GAS_HOLD_S + GAS_FALL_S
        t0 = self._start_between(rng, 60.0, length)
        shape = PiecewiseLinear(
            (t0, t0 + GAS_RAMP_S, t0 + GAS_RAMP_S + GAS_HOLD_S, t0 + length), (0.0, peak, peak, 0.0)
        )
        desc = f"leak: concentration {what}, holds {GAS_HOLD_S / 60:g} min, disperses"
        return _Planned(
            Incident(sid, "gas_two_stage", level.label, self._ts(t0), self._ts(t0 + length), desc),
            _disturb(sid, shape),
        )

    # --- signals -------------------------------------------------------------------------------------

    def bank(self) -> SignalBank:
        """A fresh signal bank with every incident installed (each call starts from tick 0)."""
        bank = SignalBank(self.registry, self.seed, self.start_ts_ms, self.tick_ms)
        for p in self._planned:
            p.install(bank)
        return bank

    def frames(self) -> Iterator[TickColumns]:
        """Every tick as columns (rows, ts_ms, values[n, 4]) in registry row order."""
        bank = self.bank()
        for _ in range(self.n_ticks):
            yield bank.next()

    def _gateway_layout(self) -> _GatewayLayout:
        by_gw: dict[str, list[int]] = {}
        for row, s in enumerate(self.registry):
            by_gw.setdefault(s.gateway_id or FALLBACK_GATEWAY, []).append(row)
        names = sorted(by_gw)
        return _GatewayLayout([by_gw[g] for g in names], names)

    @property
    def gateways(self) -> list[str]:
        return list(self._layout.gateways)

    def ticks(self) -> Iterator[tuple[int, dict[str, dict[str, Any]]]]:
        """``(tick ts_ms, {gateway_id: BatchPayload v1 dict})`` for every tick, one payload per gateway."""
        ids = [s.sensor_id for s in self.registry]
        channels = [KINDS[s.kind].channels for s in self.registry]
        for frame in self.frames():
            ts = frame.ts_ms.tolist()
            vals = frame.values.tolist()
            payloads: dict[str, dict[str, Any]] = {}
            for gw, rows in zip(self._layout.gateways, self._layout.rows, strict=True):
                payloads[gw] = {
                    "v": 1,
                    "gateway_id": gw,
                    "readings": [_reading(ids[r], ts[r], channels[r], vals[r]) for r in rows],
                }
            yield frame.tick_ts_ms, payloads

    def readings(self) -> Iterator[dict[str, Any]]:
        """Every Reading v1 dict, tick by tick, in registry row order within a tick."""
        ids = [s.sensor_id for s in self.registry]
        channels = [KINDS[s.kind].channels for s in self.registry]
        for frame in self.frames():
            ts = frame.ts_ms.tolist()
            vals = frame.values.tolist()
            for r in range(len(ids)):
                yield _reading(ids[r], ts[r], channels[r], vals[r])

    @property
    def n_readings(self) -> int:
        return self.n_ticks * len(self.registry)

    def describe(self) -> dict[str, Any]:
        """Scenario metadata: what scenario.json holds."""
        counts: dict[str, int] = {}
        for s in self.registry:
            counts[s.kind] = counts.get(s.kind, 0) + 1
        by_rule: dict[str, dict[str, int]] = {}
        for inc in sorted(self.expected(), key=lambda i: (i.rule, i.level)):
            by_rule.setdefault(inc.rule, {})
            by_rule[inc.rule][inc.expected_level] = by_rule[inc.rule].get(inc.expected_level, 0) + 1
        return {
            "seed": self.seed,
            "start_ts_ms": self.start_ts_ms,
            "end_ts_ms": self.end_ts_ms,
            "duration_s": self.duration_s,
            "tick_ms": self.tick_ms,
            "n_ticks": self.n_ticks,
            "n_sensors": len(self.registry),
            "n_gateways": len(self._layout.gateways),
            "n_readings": self.n_readings,
            "sensors_by_kind": dict(sorted(counts.items())),
            "incidents_by_rule": by_rule,
        }

    def write(self, directory: str | Path) -> ScenarioFiles:
        """Write registry.csv, readings.jsonl (Reading v1 per line), incidents.json and scenario.json."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        reg = out / "registry.csv"
        self.registry.save(reg)
        readings = out / "readings.jsonl"
        n = 0
        with readings.open("w", encoding="utf-8") as fh:
            for r in self.readings():
                fh.write(json.dumps(r, separators=(",", ":")))
                fh.write("\n")
                n += 1
        incidents = out / "incidents.json"
        incidents.write_text(json.dumps([i.to_json() for i in self.expected()], indent=2) + "\n")
        meta = out / "scenario.json"
        meta.write_text(json.dumps(self.describe(), indent=2) + "\n")
        return ScenarioFiles(reg, readings, incidents, meta, n)


def _reading(sensor_id: str, ts_ms: int, channels: tuple[str, ...], vals: list[float]) -> dict[str, Any]:
    if channels:
        return {
            "v": 1,
            "sensor_id": sensor_id,
            "ts_ms": ts_ms,
            "values": dict(zip(channels, vals, strict=False)),
        }
    return {"v": 1, "sensor_id": sensor_id, "ts_ms": ts_ms, "value": vals[0]}


def load_incidents(path: str | Path) -> list[Incident]:
    """Read an incidents.json written by :meth:`Scenario.write`."""
    return [Incident(**d) for d in json.loads(Path(path).read_text())]


def _spread_pick(candidates: list[Sensor], n: int, rng: np.random.Generator, used: set[str]) -> list[Sensor]:
    """``n`` distinct sensors, shuffled, preferring new sites and alternating kinds."""
    pool = [candidates[i] for i in rng.permutation(len(candidates)) if candidates[i].sensor_id not in used]
    kinds = sorted({s.kind for s in pool})
    chosen: list[Sensor] = []
    sites: set[str] = set()
    while len(chosen) < n and pool:
        want_kind = kinds[len(chosen) % len(kinds)] if kinds else None
        pick = next((s for s in pool if s.site not in sites and s.kind == want_kind), None)
        pick = pick or next((s for s in pool if s.site not in sites), None) or pool[0]
        chosen.append(pick)
        sites.add(pick.site)
        pool.remove(pick)
    return chosen


def _disturb(
    sensor_id: str, fn: Callable[[float], float], rel_noise: float | None = None
) -> Callable[[SignalBank], None]:
    def install(bank: SignalBank) -> None:
        model, idx = bank.model_of(sensor_id)
        model.add_disturbance(idx, fn)
        if rel_noise is not None and isinstance(model, ConcentrationModel):
            model.rel_noise[idx] = rel_noise

    return install


def _rain(sensor_id: str, cumulative: Callable[[float], float]) -> Callable[[SignalBank], None]:
    def install(bank: SignalBank) -> None:
        model, idx = bank.model_of(sensor_id)
        model.add_disturbance(idx, cumulative)
        if isinstance(model, RainGaugeModel):
            model.gain[idx] = 0.0  # no drizzle on top: the burst's total alone decides the level

    return install


def _lift(sensor_id: str, tick: int, ratios: tuple[float, ...]) -> Callable[[SignalBank], None]:
    def install(bank: SignalBank) -> None:
        model, idx = bank.model_of(sensor_id)
        if not isinstance(model, ElevatorStatusModel):
            raise TypeError(f"{sensor_id} is not an elevator_status sensor")
        model.schedule_trip(idx, tick, ratios)

    return install
