"""Signal models: seeded, consistent, and clean signals stay far from every set point."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Family
from simulators.registry_gen import make_registry
from simulators.scenario import Scenario
from simulators.signals import (
    ElevatorStatusModel,
    IntegratedPiecewiseLinear,
    PiecewiseLinear,
    RainGaugeModel,
    SignalBank,
)


def _frames(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    ts, vals = [], []
    for f in scenario.frames():
        ts.append(f.ts_ms)
        vals.append(f.values)
    return np.stack(ts), np.stack(vals)  # (ticks, sensors), (ticks, sensors, 4)


@pytest.fixture(scope="module")
def clean() -> Scenario:
    return Scenario(make_registry(300, seed=5), seed=5, duration_s=1800, with_incidents=False)


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    reg = make_registry(120, seed=1)
    a = _frames(Scenario(reg, seed=9, duration_s=300))
    b = _frames(Scenario(reg, seed=9, duration_s=300))
    c = _frames(Scenario(reg, seed=10, duration_s=300))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True)
    assert not np.array_equal(a[1], c[1], equal_nan=True)


def test_frames_are_iterable_again_and_identical(clean: Scenario) -> None:
    first = next(iter(clean.frames()))
    again = next(iter(clean.frames()))
    assert np.array_equal(first.values, again.values, equal_nan=True)


def test_every_sensor_reads_once_per_tick_at_its_own_offset(clean: Scenario) -> None:
    ts, vals = _frames(clean)
    ticks = np.arange(clean.n_ticks) * clean.tick_ms + clean.start_ts_ms
    offset = ts - ticks[:, None]
    assert (offset >= 0).all() and (offset < min(1000, clean.tick_ms // 2)).all()
    assert (offset == offset[0]).all(), "each sensor keeps its offset"
    assert len(np.unique(offset[0])) > 10, "readings of one tick are not all stamped alike"
    # values: column 0 always set, unused channel columns NaN
    for row, s in enumerate(clean.registry):
        width = max(1, len(s.spec.channels))
        assert np.isfinite(vals[:, row, :width]).all(), s.sensor_id
        assert np.isnan(vals[:, row, width:]).all(), s.sensor_id


def _by_kind(scenario: Scenario, vals: np.ndarray, kind: str) -> tuple[list[Sensor], np.ndarray]:
    rows = scenario.registry.rows_of_kind(kind)
    return [scenario.registry.sensors[r] for r in rows], vals[:, rows]


def test_clean_signals_stay_far_from_set_points(clean: Scenario) -> None:
    _, vals = _frames(clean)
    sensors, gas = _by_kind(clean, vals, "combustible_gas")
    pre = np.array([s.params["prealarm_ratio"] * s.params["first_alarm_lel"] for s in sensors])
    assert gas[..., 0].max() < 5.0 and (gas[..., 0].max(axis=0) < 0.5 * pre).all()
    assert (gas[..., 0] >= 0).all()
    assert _by_kind(clean, vals, "well_methane")[1][..., 0].max() < 5.0
    assert _by_kind(clean, vals, "tunnel_methane")[1][..., 0].max() < 5.0
    sensors, tox = _by_kind(clean, vals, "toxic_gas")
    first = np.array([s.params["first_alarm_mgm3"] for s in sensors])
    assert (tox[..., 0].max(axis=0) < 0.1 * first).all()
    level = _by_kind(clean, vals, "tank_level")[1][..., 0]
    assert level.min() > 20 and level.max() < 80
    sensors, tp = _by_kind(clean, vals, "tank_pressure")
    assert (tp[..., 0].max(axis=0) < 0.8 * np.array([s.params["high_mpa"] for s in sensors])).all()
    depth = _by_kind(clean, vals, "water_depth")[1][..., 0]
    assert depth.min() >= 0 and depth.max() < 5
    sensors, vib = _by_kind(clean, vals, "elevator_vibration")
    assert vib[..., 0].max() < 0.30 * 0.8 and vib[..., 1].max() < 0.20 * 0.8


def test_pipeline_pressure_near_nominal_with_small_noise(clean: Scenario) -> None:
    _, vals = _frames(clean)
    sensors, p = _by_kind(clean, vals, "pipeline_pressure")
    nominal = np.array([s.params["nominal_kpa"] for s in sensors])
    rel = p[..., 0] / nominal
    assert rel.min() > 0.95 and rel.max() < 1.02
    noise = np.diff(rel, axis=0).std() / np.sqrt(2)  # white noise: σ(diff) = √2 σ
    assert 0.0003 < noise < 0.0008


def test_displacement_is_v_bar_times_t_plus_small_noise(clean: Scenario) -> None:
    ts, vals = _frames(clean)
    for kind, sigma in (("gnss_displacement", 0.02), ("crack_meter", 0.005)):
        rows = clean.registry.rows_of_kind(kind)
        for r in rows:
            s = clean.registry.sensors[r]
            t_h = (ts[:, r] - ts[0, r]) / 3.6e6
            slope, icept = np.polyfit(t_h, vals[:, r, 0], 1)
            resid = vals[:, r, 0] - (slope * t_h + icept)
            assert slope == pytest.approx(s.params["v_bar_mm_per_h"], abs=0.05), s.sensor_id
            assert resid.std() == pytest.approx(sigma, rel=0.2), s.sensor_id


def test_clean_rain_never_reaches_50_mm_in_12_h() -> None:
    """Drizzle is capped at 2 mm/h: a clean gauge cannot sum 50 mm in any 12 h (blue set point)."""
    reg = make_registry(600, seed=8)
    gauges = [s for s in reg if s.kind == "rain_gauge"]
    model = RainGaugeModel(gauges, np.random.default_rng(3), 1.78e9)
    dt_s, hours = 60.0, 48
    t = np.arange(int(hours * 3600 / dt_s)) * dt_s
    rain = np.stack([model.sample(np.full(len(gauges), ti)) for ti in t])
    assert (rain >= 0).all() and rain.sum() > 0, "it does drizzle"
    assert np.allclose(rain / 0.1, np.round(rain / 0.1)), "tipping-bucket resolution 0.1 mm"
    per_12h = int(12 * 3600 / dt_s)
    c = np.vstack([np.zeros(len(gauges)), np.cumsum(rain, axis=0)])
    sums = c[per_12h:] - c[:-per_12h]
    assert sums.max() <= 12 * RainGaugeModel.MAX_DRIZZLE_MM_PER_H + 0.1 < 50
    assert (rain > 0).mean() < 0.6, "mostly dry"


def test_elevator_channels_are_consistent() -> None:
    reg = make_registry(500, seed=4)
    sc = Scenario(reg, seed=4, duration_s=3600)  # incidents included: scripted trips must be consistent too
    _, vals = _frames(sc)
    rows = reg.rows_of_kind("elevator_status")
    ev = vals[:, rows]
    speed, door, zone, occ = (ev[..., i] for i in range(4))
    assert set(np.unique(door)) <= {0.0, 1.0} and set(np.unique(zone)) <= {0.0, 1.0}
    assert set(np.unique(occ)) <= {0.0, 1.0}
    assert (speed >= 0).all()
    opened = door == 1
    assert (speed[opened] == 0).all() and (zone[opened] == 1).all(), (
        "door opens only at rest in the door zone"
    )
    assert (zone[speed == 0] == 1).all(), "a car never stops outside the door zone"
    # occupancy changes only while the door is open (in the reading before or after)
    change = occ[1:] != occ[:-1]
    assert (door[1:][change] + door[:-1][change] >= 1).all()
    # never stopped, closed and occupied for two readings in a row (no false trapped-passenger)
    still_closed_occ = (speed == 0) & (door == 0) & (occ == 1)
    assert not (still_closed_occ[1:] & still_closed_occ[:-1]).any()
    # normal trips stay ≤ 1.05 × rated; only incident cars go faster
    rated = np.array([reg.sensors[r].params["rated_speed_mps"] for r in rows])
    incident = np.array([reg.sensors[r].sensor_id in sc.incident_sensors() for r in rows])
    ratio = speed / rated
    assert ratio[:, ~incident].max() <= 1.05 + 1e-9
    assert ratio[:, ~incident].max() > 0.9, "cars do travel at about rated speed"
    assert (speed > 0).mean() > 0.05, "cars do travel"
    # vibration sensors follow their car
    for r in reg.rows_of_kind("elevator_vibration"):
        car = reg.sensors[r].params.get("car_status_sensor")
        if car:
            moving = vals[:, reg.index[car], 0] > 0
            z = vals[:, r, 0]
            assert z[moving].min() > z[~moving].max()


def test_elevator_scripted_trip_needs_room() -> None:
    reg = Registry([s for s in make_registry(100, seed=1) if s.family == Family.ELEVATOR])
    bank = SignalBank(reg, seed=1, start_ts_ms=0, tick_ms=5000)
    model = bank.models["elevator_status"]
    assert isinstance(model, ElevatorStatusModel)
    with pytest.raises(ValueError):
        model.schedule_trip(0, 3, (1.0, 1.3))


def test_integrated_rate_is_exact() -> None:
    rate = PiecewiseLinear((0.0, 3600.0, 7200.0), (0.0, 10.0, 10.0))  # mm/h
    total = IntegratedPiecewiseLinear(rate)
    assert total(-5) == 0
    assert total(3600) == pytest.approx(5.0)
    assert total(7200) == pytest.approx(15.0)
    assert total(10800) == pytest.approx(25.0)  # keeps the last rate
