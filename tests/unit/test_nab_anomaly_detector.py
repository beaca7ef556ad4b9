"""Behaviour of the general-purpose anomaly detector (detectors/anomaly) on small synthetic series.

The shared conformance suite (tests/contract) already checks purity, batch invariance, isolation,
snapshots, growth and NaN/inf safety for it; these tests check what it detects.
"""

from __future__ import annotations

import numpy as np
import pytest

from detectors.anomaly import AnomalyParams, AnomalyScore
from detectors.anomaly.ensemble import STAT_COLUMNS, state_bytes
from detectors.base import Batch

T0 = 1_700_000_000_000 - (1_700_000_000_000 % 86_400_000)  # a UTC midnight
FIVE_MIN = 300_000


def run(values: np.ndarray, params: AnomalyParams | None = None, step_ms: int = FIVE_MIN) -> np.ndarray:
    """Scores of one sensor's series, fed in batches of 1,000 readings."""
    det = AnomalyScore(params)
    state = det.init_state(1)
    ts = T0 + np.arange(values.size, dtype=np.int64) * step_ms
    out = []
    for start in range(0, values.size, 1000):
        sl = slice(start, start + 1000)
        out.append(det.step_in_place(state, Batch.of(np.zeros(values[sl].size), ts[sl], values[sl])))
    return np.concatenate(out)


def noise(n: int, seed: int = 0, level: float = 10.0, sd: float = 1.0) -> np.ndarray:
    return level + sd * np.random.default_rng(seed).normal(size=n)


def test_scores_are_nan_during_warmup_then_in_unit_interval() -> None:
    scores = run(noise(600))
    warmup = AnomalyParams().warmup
    assert np.isnan(scores[:warmup]).all()
    rest = scores[warmup:]
    assert np.isfinite(rest).all()
    assert ((rest >= 0) & (rest <= 1)).all()


def test_a_spike_scores_high_and_ordinary_readings_low() -> None:
    values = noise(1500)
    values[1200] = 25.0  # 15 standard deviations
    scores = run(values)
    assert scores[1200] > 0.9
    ordinary = np.delete(scores[300:], 1200 - 300)
    assert np.quantile(ordinary, 0.99) < 0.2
    assert (ordinary > 0.5).sum() <= 2


def test_a_drop_scores_as_well_as_a_rise() -> None:
    values = noise(1500)
    values[1200] = -5.0
    assert run(values)[1200] > 0.9


def test_a_level_shift_scores_at_onset_then_goes_quiet() -> None:
    values = np.r_[noise(1000, seed=1), noise(500, seed=2, level=20.0)]
    scores = run(values)
    assert scores[1000] > 0.8  # 10 sd above the mean: about twice the distance of the recent extremes
    after = scores[1001:1100]
    assert (after > 0.5).sum() <= 2, "a sustained condition should score at onset, not on every reading"
    assert np.median(after) == 0.0


def test_a_repeat_right_after_an_extreme_is_not_news() -> None:
    values = noise(1500)
    values[1200] = 25.0
    values[1205] = 25.0
    scores = run(values)
    assert scores[1200] > 0.9
    assert scores[1205] < 0.2


def test_a_flat_sensor_that_moves_is_an_anomaly() -> None:
    values = np.full(800, 42.0)
    values[700] = 42.5
    scores = run(values)
    assert scores[600] == 0.0
    assert scores[700] > 0.9


def daily_wave(days: int, seed: int = 3) -> np.ndarray:
    per_day = 86_400_000 // FIVE_MIN
    t = np.arange(days * per_day)
    rng = np.random.default_rng(seed)
    return 50.0 + 20.0 * np.sin(2 * np.pi * t / per_day) + rng.normal(0.0, 1.0, t.size)


def test_the_daily_peak_is_not_an_anomaly_once_learnt() -> None:
    values = daily_wave(21)
    scores = run(values)
    per_day = 86_400_000 // FIVE_MIN
    late = scores[14 * per_day :]
    assert np.quantile(late, 0.999) < 0.3


def test_a_peak_value_at_the_wrong_hour_is_caught_by_the_daily_view() -> None:
    per_day = 86_400_000 // FIVE_MIN
    values = daily_wave(21)
    trough = 18 * per_day + (3 * per_day) // 4  # sin minimum: value ~30
    values[trough] = 70.0  # the daily maximum, at the time of the daily minimum
    with_daily = run(values)
    value_only = run(values, AnomalyParams(daily_weight=0.0))
    assert value_only[trough] < 0.3, "inside the sensor's usual range: the value view alone sees little"
    assert with_daily[trough] > 0.9


def test_daily_profile_memory_is_in_days_not_readings() -> None:
    # the same daily shape sampled every minute and every 10 minutes: both learn it within days
    for step_ms in (60_000, 600_000):
        per_day = 86_400_000 // step_ms
        t = np.arange(10 * per_day)
        values = 50.0 + 20.0 * np.sin(2 * np.pi * t / per_day)
        values[9 * per_day + (3 * per_day) // 4] = 70.0
        scores = run(values, step_ms=step_ms)
        assert scores[9 * per_day + (3 * per_day) // 4] > 0.9, step_ms


def test_non_finite_readings_score_nan_and_leave_state_alone() -> None:
    det = AnomalyScore()
    state = det.init_state(2)
    ts = T0 + np.arange(200, dtype=np.int64) * FIVE_MIN
    det.step_in_place(state, Batch.of(np.zeros(200), ts, noise(200)))
    before = {k: v.copy() for k, v in state.items()}
    bad = Batch.of([0, 0, 0, 1], T0 + 200 * FIVE_MIN + np.arange(4), [np.nan, np.inf, -np.inf, np.nan])
    scores = det.step_in_place(state, bad)
    assert np.isnan(scores).all()
    for k in state:
        np.testing.assert_array_equal(state[k], before[k])


def test_state_size_per_sensor() -> None:
    assert state_bytes(1) == 8 * len(STAT_COLUMNS) + 24 * 8 + 24 * 4
    assert state_bytes(1000) == 1000 * state_bytes(1)


@pytest.mark.parametrize(
    "bad",
    [
        {"warmup": 0},
        {"alpha": 0.0},
        {"alpha": 1.5},
        {"tail_p": 1.0},
        {"tail_step": 0.0},
        {"envelope_tau": -1.0},
        {"profile_days": 0.0},
        {"refractory_tau": 0.0},
        {"value_weight": 0.0},
        {"daily_weight": -1.0},
    ],
)
def test_bad_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AnomalyParams(**bad)
