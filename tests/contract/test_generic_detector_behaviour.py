"""What each generic detector detects, on small hand-made signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.base import Batch, LevelPolicy, StateKeyMismatchError, sequential_steps
from detectors.generic import (
    Cusum,
    CusumParams,
    EwmaZ,
    EwmaZParams,
    FlatLine,
    FlatLineParams,
    FlatLineUnit,
    Gap,
    GapParams,
    RateOfChange,
    RateOfChangeParams,
    RobustZ,
    RobustZParams,
    Spike,
    SpikeParams,
    StaticLimits,
    StaticLimitsParams,
)
from detectors.generic.common import reading_steps

T0 = 1_700_000_000_000


def series(values: list[float] | np.ndarray, row: int = 0, step_ms: int = 1000, t0: int = T0) -> Batch:
    v = np.asarray(values, dtype=np.float64)
    return Batch.of(np.full(v.size, row), t0 + step_ms * np.arange(v.size), v)


def test_static_limits_count_the_levels_reached_on_the_worse_side() -> None:
    det = StaticLimits(StaticLimitsParams(levels=4, high=(10, 25, 50, 75), low=(-5,)))
    scores, _ = det.step(det.init_state(1), series([0, 10, 24.9, 25, 60, 80, -5, -100, np.nan, np.inf]))
    np.testing.assert_array_equal(scores, [0, 1, 1, 2, 3, 4, 1, 1, np.nan, np.nan])
    levels = LevelPolicy(np.tile([1.0, 2.0, 3.0, 4.0], (1, 1))).levels(np.zeros(3, np.int32), scores[3:6])
    np.testing.assert_array_equal(levels, [2, 3, 4])


def test_static_limits_set_points_are_per_sensor() -> None:
    det = StaticLimits(StaticLimitsParams(levels=2, high=(10, 20)))
    state = det.init_state(3)
    configured = det.configure(state, [1], high=[1.0, 2.0])
    configured = det.configure(configured, [2], sp_high=np.nan)  # all limits off
    assert np.isnan(state["sp_high"][1]).sum() == 0 and state["sp_high"][1, 0] == 10  # input untouched
    batch = Batch.of([0, 1, 2], [T0] * 3, [5.0, 5.0, 5.0])
    scores, _ = det.step(configured, batch)
    np.testing.assert_array_equal(scores, [0.0, 2.0, np.nan])
    with pytest.raises(KeyError):
        det.configure(state, [0], nonsense=1.0)
    with pytest.raises(IndexError):
        det.configure(state, [3], high=1.0)


def test_rate_of_change_against_a_limit_and_against_the_sensor_itself() -> None:
    det = RateOfChange(RateOfChangeParams(limit_per_s=2.0))
    # 1 s apart: +1/s, +4/s; then 2 s apart: +4 over 2 s = 2/s
    batch = Batch.of([0, 0, 0, 0], [T0, T0 + 1000, T0 + 2000, T0 + 4000], [0.0, 1.0, 5.0, 9.0])
    scores, _ = det.step(det.init_state(1), batch)
    np.testing.assert_allclose(scores, [np.nan, 0.5, 2.0, 1.0])

    learned = RateOfChange(RateOfChangeParams(min_count=20, alpha=0.05))
    rng = np.random.default_rng(0)
    noise = np.cumsum(rng.normal(0, 0.1, 200))
    noise[150] += 5.0  # a jump of 50 typical steps
    scores, _ = learned.step(learned.init_state(1), series(noise))
    assert np.isnan(scores[:21]).all() and np.isfinite(scores[21:]).all()
    assert scores[150] > 20 and np.nanmax(np.delete(scores, [150, 151])) < 6


def test_rate_of_change_skips_duplicate_and_late_timestamps() -> None:
    det = RateOfChange(RateOfChangeParams(limit_per_s=1.0))
    s0 = det.init_state(1)
    _, s1 = det.step(s0, Batch.of([0], [T0 + 5000], [1.0]))
    scores, s2 = det.step(s1, Batch.of([0, 0], [T0 + 5000, T0 + 1000], [9.0, 9.0]))
    np.testing.assert_array_equal(scores, [np.nan, np.nan])
    assert s2["last_value"][0] == 1.0 and s2["last_ts"][0] == T0 + 5000


def test_robust_z_flags_a_spike_and_resists_a_burst_of_them() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 1.0, 100)
    x[[60, 61, 62]] = 40.0  # a burst: the median/MAD barely move
    det = RobustZ(RobustZParams(window=32, min_count=8))
    scores, _ = det.step(det.init_state(1), series(x))
    assert np.isnan(scores[:8]).all() and np.isfinite(scores[8:]).all()
    assert (scores[[60, 61, 62]] > 15).all()
    assert np.nanmax(np.delete(scores, [60, 61, 62])) < 6


def _absorbed_after(scores: np.ndarray, shift_at: int) -> int:
    """Readings after a level shift until the score first drops below 3 again."""
    return int(np.flatnonzero(scores[shift_at:] < 3)[0])


@pytest.mark.parametrize("hop", [2, 4, 8, 16])
def test_robust_z_hops_absorb_a_level_shift_at_most_hop_minus_one_readings_late(hop: int) -> None:
    rng = np.random.default_rng(3)
    shift_at = 45  # not on a hop of any of these: the lag depends on where the refreshes fall
    x = np.r_[rng.normal(10.0, 1.0, shift_at), rng.normal(40.0, 1.0, 60)]
    exact = RobustZ(RobustZParams(hop=1))
    hopping = RobustZ(RobustZParams(hop=hop))
    exact_scores, _ = exact.step(exact.init_state(1), series(x))
    scores, _ = hopping.step(hopping.init_state(1), series(x))
    assert (scores[shift_at : shift_at + 3] > 15).all() and (exact_scores[shift_at : shift_at + 3] > 15).all()
    lag = _absorbed_after(scores, shift_at) - _absorbed_after(exact_scores, shift_at)
    assert 0 <= lag <= hop - 1


def test_robust_z_counts_hops_in_values_received_not_readings() -> None:
    det = RobustZ(RobustZParams(window=8, min_count=4, hop=4))
    x = np.arange(1.0, 13.0)
    with_nan = np.r_[x[:6], np.nan, np.nan, x[6:]]  # two readings that never reach the ring
    plain, s1 = det.step(det.init_state(1), series(x))
    holes, s2 = det.step(det.init_state(1), series(with_nan))
    np.testing.assert_array_equal(holes[~np.isnan(with_nan)], plain)
    np.testing.assert_array_equal(s1["baseline"], s2["baseline"])


def test_robust_z_hop_must_divide_the_window() -> None:
    with pytest.raises(ValueError, match="divide"):
        RobustZParams(window=32, hop=3)
    with pytest.raises(ValueError, match="divide"):
        RobustZParams(hop=0)


def test_ewma_z_scores_a_step_then_adapts() -> None:
    x = np.r_[np.tile([9.0, 11.0], 50), np.tile([19.0, 21.0], 100)]
    det = EwmaZ(EwmaZParams(alpha=0.1, min_count=10))
    scores, state = det.step(det.init_state(1), series(x))
    assert np.isnan(scores[:10]).all()
    assert scores[100] > 5  # the step
    assert scores[-1] < 2  # adapted to the new level
    assert state["mean"][0] == pytest.approx(20.0, abs=0.6)


def test_cusum_accumulates_a_shift_too_small_for_a_z_score() -> None:
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, 300), rng.normal(1.0, 1, 60)]  # a one-sigma shift
    det = Cusum(CusumParams(k=0.5, alpha=0.005, min_count=30))
    scores, _ = det.step(det.init_state(1), series(x))
    assert np.nanmax(scores[:300]) < 5
    assert np.nanmax(scores[300:]) > 8
    z = EwmaZ(EwmaZParams(alpha=0.005, min_count=30))
    z_scores, _ = z.step(z.init_state(1), series(x))
    assert np.nanmedian(z_scores[300:]) < 2  # each reading alone looks ordinary


def test_flat_line_counts_readings_within_tolerance_and_exempts_zero() -> None:
    det = FlatLine(FlatLineParams(tolerance=0.01))
    x = [5.0, 5.005, 5.002, 5.009, 5.02, 5.02, 0.0, 0.0, 0.0]
    scores, _ = det.step(det.init_state(1), series(x))
    np.testing.assert_array_equal(scores, [1, 2, 3, 4, 1, 2, 1, 2, 3])
    exempt = FlatLine(FlatLineParams(tolerance=0.01, exempt_value=0.0))
    scores, _ = exempt.step(exempt.init_state(1), series(x))
    np.testing.assert_array_equal(scores[-3:], [0, 0, 0])
    levels = LevelPolicy(np.array([[4.0, 6.0]])).levels(np.zeros(4, np.int32), np.array([3.0, 4.0, 5.0, 6.0]))
    np.testing.assert_array_equal(levels, [0, 1, 1, 2])  # QARTOD (4, 6): suspect, fail


def test_flat_line_in_seconds_with_a_per_sensor_tolerance() -> None:
    det = FlatLine(FlatLineParams(tolerance=0.0, unit=FlatLineUnit.SECONDS))
    state = det.configure(det.init_state(2), [1], tolerance=1.0)
    batch = Batch.of([0, 0, 0, 1, 1, 1], [T0, T0 + 60_000, T0 + 120_000] * 2, [1.0, 1.5, 2.0] * 2)
    scores, _ = det.step(state, batch)
    np.testing.assert_array_equal(scores, [0, 0, 0, 0, 60, 120])


def test_gap_scores_intervals_and_the_deadman_sees_silent_sensors() -> None:
    det = Gap(GapParams(interval_ms=60_000.0))
    state = det.init_state(3)
    batch = Batch.of([0, 0, 0, 1], [T0, T0 + 60_000, T0 + 240_000, T0], [1.0, np.nan, 2.0, 3.0])
    scores, state = det.step(state, batch)
    np.testing.assert_array_equal(scores, [np.nan, 1.0, 3.0, np.nan])
    overdue = det.overdue(state, T0 + 360_000)
    np.testing.assert_array_equal(overdue, [2.0, 6.0, np.nan])  # row 2 never reported
    assert det.overdue(state, T0 - 1)[0] == 0.0


def test_gap_learns_the_cadence_but_not_from_gaps() -> None:
    det = Gap(GapParams(min_count=3, alpha=0.5))
    ts = T0 + np.array([0, 10_000, 20_000, 30_000, 40_000, 400_000, 410_000])
    scores, state = det.step(det.init_state(1), Batch.of(np.zeros(7), ts, np.ones(7)))
    np.testing.assert_array_equal(scores[:4], [np.nan, np.nan, np.nan, np.nan])
    assert scores[5] == pytest.approx(36.0)  # 360 s silence against a 10 s cadence
    assert state["ew_interval_ms"][0] == pytest.approx(10_000.0)  # the gap was not learned
    assert det.overdue(state, T0 + 440_000)[0] == pytest.approx(3.0)


def test_spike_is_the_distance_from_the_rolling_median() -> None:
    det = Spike(SpikeParams(window=3, min_count=3))
    scores, _ = det.step(det.init_state(1), series([1.0, 1.2, 1.1, 1.4, 1.15, 3.0, 1.2]))
    np.testing.assert_allclose(scores, [np.nan, np.nan, np.nan, 0.3, 0.05, 1.85, 0.2])


def test_rows_beyond_capacity_and_wrong_value_shapes_are_refused() -> None:
    det = EwmaZ(EwmaZParams())
    with pytest.raises(IndexError):
        det.step(det.init_state(2), Batch.of([2], [T0], [1.0]))
    with pytest.raises(ValueError):
        det.step(det.init_state(2), Batch.of([0], [T0], [[1.0, 2.0]]))


def test_state_key_follows_params_and_set_point_defaults() -> None:
    a, b = Gap(GapParams(interval_ms=1000.0)), Gap(GapParams(interval_ms=2000.0))
    assert a.state_key() != b.state_key()
    with pytest.raises(StateKeyMismatchError):
        b.restore(a.snapshot(a.init_state(2)))


@pytest.mark.parametrize("sensors, n", [(1, 1), (1, 50), (10, 100), (1_000, 10_000), (100_000, 10_000)])
def test_reading_steps_equal_sequential_steps(sensors: int, n: int) -> None:
    rng = np.random.default_rng(sensors)
    batch = Batch.of(rng.integers(0, sensors, n), rng.integers(0, 10**6, n), rng.normal(size=n))
    fast, reference = reading_steps(batch), sequential_steps(batch)
    assert len(fast) == len(reference)
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_array_equal(a, b)
    assert reading_steps(Batch.empty()) == []
