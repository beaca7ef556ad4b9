"""Engine: registry -> domain rules -> alarm transitions -> Alert v1, pure and batch invariant."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.base import StateKeyMismatchError
from detectors.domain import GasTwoStage, LandslideTangentAngle, Rainstorm, RainstormParams, SensorParamError
from detectors.domain import default_rules as rules_v1
from detectors.engine import Engine, EngineState
from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Alert, alert_id_for

T0 = 1_700_000_000_000
NAN = np.nan


def sensor(sensor_id: str, kind: str, site: str = "", area: str = "area-1", **params: float) -> Sensor:
    spec = KINDS[kind]
    return Sensor(sensor_id, spec.family, kind, site, area, 29.6, 106.5, "gw-1", spec.unit, dict(params))


SENSORS = [
    sensor("gas-1", "combustible_gas", "tank-farm-3"),
    sensor("flow-1", "pipeline_flow", "station-4", area="area-5"),  # a kind without rules
    sensor("gas-2", "combustible_gas", "tank-farm-4", first_alarm_lel=20, second_alarm_lel=40),
    sensor("rain-1", "rain_gauge", "north-park", area="area-2"),
    sensor("lift-1", "elevator_status", "building-9", area="area-3", rated_speed_mps=2.0),
    sensor("gnss-1", "gnss_displacement", "slope-7", area="area-4", v_bar_mm_per_h=1.0),
    sensor("crack-1", "crack_meter", "", area="area-4", v_bar_mm_per_h=1.0),
    sensor("pres-1", "pipeline_pressure", "station-4", area="area-5", nominal_kpa=400),
]
ROW = {s.sensor_id: i for i, s in enumerate(SENSORS)}


def registry(sensors: list[Sensor] = SENSORS) -> Registry:
    return Registry(sensors)


def scenario() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readings of every sensor in time order, crossing levels: rows, ts_ms, values (n, 4)."""
    rows, ts, vals = [], [], []

    def add(sid: str, t: int, *v: float) -> None:
        rows.append(ROW[sid])
        ts.append(T0 + t)
        vals.append([*v, *([NAN] * (4 - len(v)))])

    for i, x in enumerate([5, 13, 26, 49, 57.3, 60, 47, 20, 5]):
        add("gas-1", i * 10_000, x)
        add("gas-2", i * 10_000 + 1, x * 0.8)
        add("flow-1", i * 10_000 + 2, 3.0)
    for i, mm in enumerate([0, 20, 35, 50, 0]):
        add("rain-1", i * 600_000, mm)
    for i, v in enumerate([1.0, 2.5, 2.9, 2.9, 2.0, 1.0]):
        add("lift-1", 100 + i * 500, v, 0.0, 0.0, 1.0)
    for i in range(20):  # 1 mm/h (= v̄) for 10 minutes, then 30 mm/h
        add("gnss-1", i * 60_000, 100 + (i * 1.0 + max(0, i - 10) * 29.0) / 60.0)
        add("crack-1", i * 60_000 + 5, 3.0 + i / 60.0)
    for i in range(30):
        add("pres-1", i * 5_000, 400 - (0 if i < 8 else (i - 8) * 5 / 60 * 12))
    r, t, v = np.array(rows, dtype=np.int32), np.array(ts, dtype=np.int64), np.array(vals)
    order = np.argsort(t, kind="stable")
    return r[order], t[order], v[order]


def key(alerts: list[Alert]) -> list[tuple]:
    return [(a.alert_id, a.ts_ms, a.sensor_id, a.rule, a.previous_level, a.level, a.reason) for a in alerts]


def test_end_to_end_alerts() -> None:
    eng = Engine(registry(), config_version="cfg-7")
    alerts, state = eng.process(eng.init_state(), *scenario())
    by = {(a.sensor_id, a.rule) for a in alerts}
    assert by >= {
        ("gas-1", "gas_two_stage"),
        ("gas-2", "gas_two_stage"),
        ("rain-1", "rainstorm"),
        ("lift-1", "elevator_overspeed"),
        ("gnss-1", "landslide_tangent_angle"),
        ("pres-1", "pipeline_pressure_drop"),
    }
    assert not any(a.sensor_id == "flow-1" for a in alerts)
    gas1 = [(a.previous_level, a.level) for a in alerts if a.sensor_id == "gas-1"]
    assert gas1 == [
        ("normal", "blue"),
        ("blue", "yellow"),
        ("yellow", "red"),
        ("red", "yellow"),
        ("yellow", "blue"),
        ("blue", "normal"),
    ]
    red = next(a for a in alerts if a.sensor_id == "gas-1" and a.level == "red")
    assert red.value == 57.3 and red.ts_ms == T0 + 40_000
    assert red.reason.startswith("combustible gas 57.3 %LEL at tank-farm-3 ≥ 2nd alarm 50 %LEL")
    for a in alerts:
        assert a.event.value == "transition" and a.channel.value == "hazard"
        assert a.config_version == "cfg-7"
        s = SENSORS[ROW[a.sensor_id]]
        assert (a.site, a.area, a.family, a.kind) == (s.site, s.area, s.family.value, s.kind)
        assert a.alert_id == alert_id_for(
            a.sensor_id, a.rule, "hazard", a.ts_ms, a.previous_level, a.level, "transition"
        )
        assert Alert.model_validate_json(a.model_dump_json()) == a
        assert a.rule in a.reason and a.sensor_id in a.reason
    assert [(a.ts_ms, a.sensor_id, a.rule) for a in alerts] == sorted(
        (a.ts_ms, a.sensor_id, a.rule) for a in alerts
    )
    assert state.max_ts_ms == int(scenario()[1].max())


def test_gas_reason_value_and_per_sensor_set_points() -> None:
    eng = Engine(registry())
    rows = np.array([ROW["gas-1"], ROW["gas-1"], ROW["gas-2"]], dtype=np.int32)
    alerts, _ = eng.process(eng.init_state(), rows, [T0, T0 + 1000, T0], [[49.0], [57.3], [21.0]])
    gas1 = [a for a in alerts if a.sensor_id == "gas-1"]
    assert [a.level for a in gas1] == ["yellow", "red"]
    assert gas1[1].value == 57.3
    assert gas1[1].reason.startswith(
        "combustible gas 57.3 %LEL at tank-farm-3 ≥ 2nd alarm 50 %LEL by 7.3 %LEL (GB/T 50493-2019), rising"
    )
    gas2 = [a for a in alerts if a.sensor_id == "gas-2"]
    assert [a.level for a in gas2] == ["yellow"]  # its 1st alarm is 20 %LEL
    assert "≥ 1st alarm 20 %LEL" in gas2[0].reason


def test_where_falls_back_to_area() -> None:
    eng = Engine(registry())
    r, t, v = scenario()
    alerts, _ = eng.process(eng.init_state(), r, t, v)
    crack = [a for a in alerts if a.sensor_id == "crack-1"]
    assert all(" at area-4" in a.reason for a in crack)
    assert all(a.kind == "crack_meter" and a.family == "geohazard" for a in crack)


def test_any_input_order_gives_the_same_alerts() -> None:
    eng = Engine(registry())
    r, t, v = scenario()
    want, want_state = eng.process(eng.init_state(), r, t, v)
    perm = np.random.default_rng(3).permutation(r.size)
    got, got_state = eng.process(eng.init_state(), r[perm], t[perm], v[perm])
    assert key(got) == key(want)
    assert eng.snapshot(got_state) == eng.snapshot(want_state)


def test_one_reading_at_a_time_and_chunks_give_the_same_alerts() -> None:
    eng = Engine(registry())
    r, t, v = scenario()
    want, want_state = eng.process(eng.init_state(), r, t, v)
    for size in (1, 7):
        state, got = eng.init_state(), []
        for i in range(0, r.size, size):
            alerts, state = eng.process(state, r[i : i + size], t[i : i + size], v[i : i + size])
            got += alerts
        got.sort(key=lambda a: (a.ts_ms, a.sensor_id, a.rule))
        assert key(got) == key(want)
        assert state.max_ts_ms == want_state.max_ts_ms


def test_process_never_mutates_inputs_or_state() -> None:
    eng = Engine(registry())
    r, t, v = scenario()
    _, state = eng.process(eng.init_state(), r[:50], t[:50], v[:50])
    before = eng.snapshot(state)
    copies = r.copy(), t.copy(), v.copy()
    eng.process(state, r, t, v)
    assert eng.snapshot(state) == before
    for a, b in zip((r, t, v), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_readings_of_kinds_without_rules_only_move_event_time() -> None:
    eng = Engine(registry())
    state = eng.init_state()
    alerts, new = eng.process(state, [ROW["flow-1"]], [T0 + 5], [[1e6]])
    assert alerts == [] and new.max_ts_ms == T0 + 5
    assert eng.init_state().max_ts_ms == -1


def test_empty_batch_returns_the_same_state() -> None:
    eng = Engine(registry())
    state = eng.init_state()
    alerts, new = eng.process(state, np.empty(0, np.int32), np.empty(0, np.int64), np.empty((0, 4)))
    assert alerts == [] and new is state


def test_values_may_be_one_column() -> None:
    eng = Engine(registry())
    r = np.array([ROW["gas-1"], ROW["lift-1"], ROW["lift-1"]], dtype=np.int32)
    alerts, _ = eng.process(eng.init_state(), r, [T0, T0, T0 + 100], np.array([30.0, 2.6, 2.6]))
    assert {(a.sensor_id, a.level) for a in alerts} == {("gas-1", "yellow"), ("lift-1", "orange")}


def test_evaluate_exposes_scores_and_levels_per_rule() -> None:
    eng = Engine(registry())
    r, t, v = scenario()
    out = eng.evaluate(eng.init_state(), r, t, v)
    gas = out.readings["gas_two_stage"]
    assert set(r[gas.index]) == {ROW["gas-1"], ROW["gas-2"]}
    np.testing.assert_array_equal(gas.scores, v[gas.index, 0])
    assert gas.levels.max() == 4
    assert "landslide_tangent_angle" in out.readings


def test_rejects_bad_batches() -> None:
    eng = Engine(registry())
    st = eng.init_state()
    with pytest.raises(ValueError, match="registry rows"):
        eng.process(st, [len(SENSORS)], [T0], [[1.0]])
    with pytest.raises(ValueError, match="disagree"):
        eng.process(st, [0, 1], [T0], [[1.0]])
    with pytest.raises(ValueError, match="at most 4"):
        eng.process(st, [0], [T0], [[1.0] * 5])
    with pytest.raises(ValueError, match="integers"):
        eng.process(st, [0.5], [T0], [[1.0]])


def test_bad_sensor_params_fail_at_build_naming_the_sensor() -> None:
    bad = [*SENSORS, sensor("gas-9", "combustible_gas", first_alarm_lel="high")]
    with pytest.raises(SensorParamError, match="gas-9"):
        Engine(registry(bad))


def test_snapshot_round_trip_continues_identically() -> None:
    eng = Engine(registry(), config_version="x")
    r, t, v = scenario()
    half = r.size // 2
    _, state = eng.process(eng.init_state(), r[:half], t[:half], v[:half])
    blob = eng.snapshot(state)
    restored = Engine(registry(), config_version="y").restore(blob)
    assert isinstance(restored, EngineState) and restored.max_ts_ms == state.max_ts_ms
    a, _ = eng.process(state, r[half:], t[half:], v[half:])
    b, _ = eng.process(restored, r[half:], t[half:], v[half:])
    assert key(a) == key(b) and a


def test_restore_refuses_other_rule_parameters() -> None:
    eng = Engine(registry())
    blob = eng.snapshot(eng.init_state())
    rules = [Rainstorm(RainstormParams(bin_ms=600_000)) if r.name == "rainstorm" else r for r in rules_v1()]
    with pytest.raises(StateKeyMismatchError, match="rule parameters"):
        Engine(registry(), rules=rules).restore(blob)
    with pytest.raises(StateKeyMismatchError):
        Engine(registry(), rules=[GasTwoStage(), LandslideTangentAngle()]).restore(blob)


def test_restore_applies_changed_sensor_params_and_keeps_measurements() -> None:
    eng = Engine(registry())
    rows = np.array([ROW["gas-1"], ROW["rain-1"]], dtype=np.int32)
    _, state = eng.process(eng.init_state(), rows, [T0, T0], [[22.0], [30.0]])
    changed = [sensor("gas-1", "combustible_gas", "tank-farm-3", first_alarm_lel=20), *SENSORS[1:]]
    changed[ROW["rain-1"]] = sensor("rain-1", "rain_gauge", "north-park", area="area-2", orange_3h_mm=40)
    new = Engine(registry(changed))
    with pytest.raises(StateKeyMismatchError, match=r"use Engine\.grow"):
        new.process(state, rows, [T0 + 1, T0 + 1], [[22.0], [15.0]])
    for adopted in (new.restore(eng.snapshot(state)), new.grow(state)):
        alerts, _ = new.process(adopted, rows, [T0 + 1, T0 + 1], [[22.0], [15.0]])
        # gas-1 is at 22 %LEL ≥ its new 1st alarm 20; rain-1 remembers 30 mm and reaches its new 40 mm
        assert {(a.sensor_id, a.previous_level, a.level) for a in alerts} == {
            ("gas-1", "blue", "yellow"),
            ("rain-1", "normal", "orange"),
        }


def test_restore_refuses_other_sensors() -> None:
    blob = Engine(registry()).snapshot(Engine(registry()).init_state())
    swapped = [SENSORS[2], SENSORS[1], SENSORS[0], *SENSORS[3:]]
    with pytest.raises(StateKeyMismatchError, match="other sensors"):
        Engine(registry(swapped)).restore(blob)
    with pytest.raises(StateKeyMismatchError, match="shrank"):
        Engine(registry(SENSORS[:-1])).restore(blob)
    with pytest.raises(StateKeyMismatchError):
        Engine(registry()).restore(b"not a snapshot")


def test_restore_grows_when_sensors_were_appended() -> None:
    eng = Engine(registry())
    r, t, v = scenario()
    _, state = eng.process(eng.init_state(), r, t, v)
    bigger = [
        *SENSORS,
        sensor("gas-3", "combustible_gas", "tank-farm-5"),
        sensor("rain-2", "rain_gauge", "south"),
    ]
    big = Engine(registry(bigger))
    grown = big.restore(eng.snapshot(state))
    assert grown.n_sensors == len(bigger)
    assert big.grow(state).n_sensors == len(bigger)
    # old sensors continue where they were (gas-1 ended at 5 %LEL, normal); gas-3 is a new, cold row
    alerts, _ = big.process(grown, [ROW["gas-1"], len(SENSORS)], [t.max() + 1, t.max() + 1], [[30.0], [55.0]])
    assert {(a.sensor_id, a.previous_level, a.level) for a in alerts} == {
        ("gas-1", "normal", "yellow"),
        ("gas-3", "normal", "orange"),
    }
    with pytest.raises(StateKeyMismatchError):
        eng.process(grown, [0], [T0], [[1.0]])  # a state of the bigger registry
