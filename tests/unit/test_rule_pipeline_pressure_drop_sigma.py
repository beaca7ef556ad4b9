"""pipeline_pressure_drop_sigma: drop rate in units of the sensor's own rate noise σ ([P], dP/dt < −k·σ):
blue 6σ, yellow 12σ, orange 20σ, red 30σ after 3 consecutive readings, only where the drop is ≥ 0.1 %/min;
σ and the mean rate are learned per sensor from its normal readings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch, State
from detectors.domain import PipelinePressureDropSigma, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
EVERY_MS = 5000
#: first reading with a rate: 7 readings span 30 s, half the 60 s window
FIRST_RATE = 6


def learned_state(
    rule: PipelinePressureDropSigma, sigma: float, params: Mapping[str, Any] | None = None
) -> State:
    """A sensor that has learned mean 0 and the given σ (%/min) but has no readings in its ring."""
    state = rule.configure(rule.init_state(1), [params or {}], ["gp-pp-1"])
    state["learn_n"][0] = 5000
    state["learn_mean"][0] = 0.0
    state["learn_var"][0] = sigma**2
    return state


def drop(state: State, pct_per_min: float, n: int = 20, start_ts: int = T0) -> RuleOutput:
    rule = PipelinePressureDropSigma()
    t_s = np.arange(n) * EVERY_MS / 1000.0
    kpa = 300.0 * (1 - pct_per_min / 100.0 * t_s / 60.0)
    return rule.evaluate(state, Batch.of(np.zeros(n), start_ts + EVERY_MS * np.arange(n), kpa))


@pytest.mark.parametrize(
    ("z", "level"),
    [
        (5.99, NORMAL),
        (6.0, BLUE),  # exactly at
        (6.01, BLUE),
        (11.99, BLUE),
        (12.0, YELLOW),
        (19.99, YELLOW),
        (20.0, ORANGE),
        (29.99, ORANGE),
        (30.0, RED),
        (40.0, RED),
    ],
)
def test_levels_at_each_multiple_of_sigma(z: float, level: int) -> None:
    rule = PipelinePressureDropSigma()
    sigma = 0.05  # %/min
    out = drop(learned_state(rule, sigma), z * sigma)
    assert np.isnan(out.scores[:FIRST_RATE]).all()
    np.testing.assert_allclose(out.scores[FIRST_RATE:], z, rtol=1e-6)
    assert set(out.levels[: FIRST_RATE + 2].tolist()) == {NORMAL}  # three consecutive readings
    assert set(out.levels[FIRST_RATE + 2 :].tolist()) == {level}


def test_drops_below_the_physical_floor_never_alarm() -> None:
    rule = PipelinePressureDropSigma()
    state = learned_state(rule, 0.005)  # an almost noise-free transmitter
    assert drop(state, 0.099).levels.max() == NORMAL  # 19.8 σ but under 0.1 %/min
    out = drop(state, 0.1)  # 20 σ, exactly at the floor: orange
    assert set(out.levels[: FIRST_RATE + 2].tolist()) == {NORMAL}
    assert set(out.levels[FIRST_RATE + 2 :].tolist()) == {ORANGE}


def test_rises_never_alarm_and_levels_clear_below_blue() -> None:
    rule = PipelinePressureDropSigma()
    state = learned_state(rule, 0.05)
    assert drop(state, -2.0).levels.max() == NORMAL
    out = drop(state, 0.7, n=30)  # 14 σ: yellow
    n = 40
    flat = rule.evaluate(
        out.state, Batch.of(np.zeros(n), T0 + EVERY_MS * (30 + np.arange(n)), np.full(n, 296.0))
    )
    levels = flat.levels.tolist()
    assert out.levels[-1] == YELLOW and levels[0] == YELLOW and levels[-1] == NORMAL
    z = flat.scores
    first_low = int(np.flatnonzero(z < 6.0)[0])
    assert set(levels[:first_low]) == {YELLOW} and set(levels[first_low:]) == {NORMAL}


def noisy(rng: np.random.Generator, n: int, noise_kpa: float = 0.15) -> np.ndarray:
    return 300.0 + noise_kpa * rng.standard_normal(n)


def test_sigma_is_learned_from_the_sensor_noise_and_scores_start_once_warm() -> None:
    rule = PipelinePressureDropSigma()
    state = rule.configure(rule.init_state(1), [{}], ["gp-pp-1"])
    n = 3000
    out = rule.evaluate(
        state, Batch.of(np.zeros(n), T0 + EVERY_MS * np.arange(n), noisy(np.random.default_rng(2), n))
    )
    # least-squares slope of 12 readings 5 s apart with σ 0.15 kPa: 0.15/√3575 kPa/s = 0.0502 %/min of 300 kPa
    sigma = float(np.sqrt(out.state["learn_var"][0]))
    assert sigma == pytest.approx(0.0502, rel=0.15)
    warm_at = FIRST_RATE + 240
    assert np.isnan(out.scores[:warm_at]).all() and np.isfinite(out.scores[warm_at:]).all()
    assert out.levels.max() == NORMAL


def test_a_leak_is_not_learned_as_normal() -> None:
    rule = PipelinePressureDropSigma()
    state = rule.configure(rule.init_state(1), [{}], ["gp-pp-1"])
    n = 1000
    base = rule.evaluate(
        state, Batch.of(np.zeros(n), T0 + EVERY_MS * np.arange(n), noisy(np.random.default_rng(4), n))
    )
    before = {k: base.state[k][0].copy() for k in ("learn_n", "learn_mean", "learn_var")}
    m = 120  # a 10-minute leak at 0.5 %/min (10 σ)
    t_s = np.arange(m) * EVERY_MS / 1000.0
    leak = noisy(np.random.default_rng(5), m) - 300.0 * 0.005 * t_s / 60.0
    out = rule.evaluate(base.state, Batch.of(np.zeros(m), T0 + EVERY_MS * (n + np.arange(m)), leak))
    assert out.levels.max() >= BLUE
    learned = int(out.state["learn_n"][0] - before["learn_n"])
    assert learned < 15  # only the onset, while the window still straddles it
    assert float(np.sqrt(out.state["learn_var"][0])) == pytest.approx(
        float(np.sqrt(before["learn_var"])), rel=0.05
    )


def test_a_noisy_sensor_does_not_alarm_on_its_own_noise_where_the_fixed_rule_would() -> None:
    from detectors.domain import PipelinePressureDrop

    n = 4000
    values = noisy(np.random.default_rng(6), n, noise_kpa=3.0)  # 1 % of nominal per reading
    ts = T0 + EVERY_MS * np.arange(n)
    sig = PipelinePressureDropSigma()
    fixed = PipelinePressureDrop()
    a = sig.evaluate(sig.configure(sig.init_state(1), [{}], ["s"]), Batch.of(np.zeros(n), ts, values))
    b = fixed.evaluate(fixed.configure(fixed.init_state(1), [{}], ["s"]), Batch.of(np.zeros(n), ts, values))
    assert a.levels.max() == NORMAL and b.levels.max() >= BLUE


@pytest.mark.parametrize(
    "params",
    [
        {"nominal_kpa": 0},
        {"yellow_sigma": 5.0},
        {"learn_clip_sigma": 0},
        {"warmup_readings": 0},
        {"min_points": 1},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = PipelinePressureDropSigma()
    with pytest.raises(SensorParamError, match="gp-pp-9"):
        rule.configure(rule.init_state(1), [params], ["gp-pp-9"])


def test_reason_gives_the_rate_its_baseline_and_the_multiple() -> None:
    rule = PipelinePressureDropSigma()
    out = drop(learned_state(rule, 0.05), 1.1)
    i = FIRST_RATE + 2
    reason = rule.describe(
        rule.context(out.state, 0, "gp-pp-0007", "dn400-main-3", ORANGE, NORMAL, out.measures, i)
    )
    assert reason.startswith("pressure drop 22 σ at dn400-main-3 ≥ orange 20 σ by 2 σ")
    assert (
        "falling 1.1 %/min (3.3 kPa/min of nominal 300 kPa) against its own baseline 0 ± 0.05 %/min" in reason
    )
    assert reason.endswith("normal → orange [rule pipeline_pressure_drop_sigma, sensor gp-pp-0007]")
