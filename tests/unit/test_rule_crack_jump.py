"""crack_jump: a sudden crack opening beyond max(6σ, 0.2 mm) of what the crack's own rate predicts is a
jump; a change to zero or a sudden closing is a sensor reset, not a hazard. Levels by jump size ([P]):
blue 0.5 mm, yellow 1, orange 3, red 10, held for 24 h after the last jump."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import CrackJump, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
EVERY_S = 600.0
CREEP_PER_READING = 0.5 * EVERY_S / 86_400  # 0.5 mm/d


def crack(n: int, jumps: Mapping[int, float] | None = None, start: float = 12.0) -> np.ndarray:
    """Creeping crack opening at 0.5 mm/d; ``jumps[i]`` mm added from reading i on."""
    x = start + CREEP_PER_READING * np.arange(n)
    for i, height in (jumps or {}).items():
        x[i:] += height
    return x


def run(
    x: Sequence[float], params: Mapping[str, Any] | None = None, ts: Sequence[int] | None = None
) -> RuleOutput:
    rule = CrackJump()
    state = rule.configure(rule.init_state(1), [dict(params or {})], ["cm-1"])
    t = np.asarray(ts) if ts is not None else T0 + (np.arange(len(x)) * EVERY_S * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of([0] * len(x), t, np.asarray(x, dtype=float)))


@pytest.mark.parametrize(
    ("height", "level"),
    [
        (0.49, NORMAL),
        (0.5, BLUE),
        (0.51, BLUE),
        (0.99, BLUE),
        (1.0, YELLOW),
        (1.01, YELLOW),
        (2.99, YELLOW),
        (3.0, ORANGE),
        (9.99, ORANGE),
        (10.0, RED),
        (10.01, RED),
    ],
)
def test_jump_size_sets_the_level(height: float, level: int) -> None:
    out = run(crack(40, {30: height}))
    assert (out.levels[:30] == NORMAL).all()
    assert out.levels[30:].tolist() == [level] * 10
    if level:
        np.testing.assert_allclose(out.scores[-1], height, atol=1e-9)


def test_a_jump_below_the_minimum_is_not_a_jump() -> None:
    out = run(crack(40, {30: 0.19}))
    assert (out.scores[11:] == 0).all() and (out.levels == NORMAL).all()


def test_no_jump_is_called_before_the_noise_is_learned() -> None:
    out = run(crack(40, {5: 2.0}))
    assert np.isnan(out.scores[:10]).all() and (out.levels == NORMAL).all()


def test_the_level_holds_a_day_after_the_last_jump_then_clears() -> None:
    per_day = int(86_400 / EVERY_S)
    out = run(crack(20 + per_day + 2, {20: 1.5}))
    assert out.levels[20] == YELLOW and out.levels[20 + per_day] == YELLOW
    assert out.levels[21 + per_day] == NORMAL


def test_the_largest_jump_of_the_day_counts() -> None:
    out = run(crack(60, {20: 3.5, 30: 0.6}))
    assert out.levels[29] == ORANGE and out.levels[-1] == ORANGE
    np.testing.assert_allclose(out.scores[-1], 3.5, atol=1e-9)


def test_a_reset_to_zero_is_not_a_jump_and_rebases_the_series() -> None:
    x = crack(80)
    x[40:] = crack(40, start=0.0)  # re-zeroed: reads the opening since
    x[60:] += 1.2  # a real jump after the reset is still seen
    out = run(x)
    assert (out.levels[:60] == NORMAL).all() and out.levels[60] == YELLOW
    assert out.measures.extra["resets"][-1] == 1


def test_a_sudden_closing_is_a_reset_not_a_jump() -> None:
    out = run(crack(40, {30: -2.0}))
    assert (out.levels == NORMAL).all() and out.measures.extra["resets"][-1] == 1


def test_the_threshold_grows_with_the_crack_noise() -> None:
    rng = np.random.default_rng(2)
    base = crack(80) + rng.normal(0.0, 0.1, 80)  # σ 0.1 mm: 6σ ≈ 0.6-0.7 mm
    small = base.copy()
    small[60:] += 0.55
    big = base.copy()
    big[60:] += 1.5
    assert (run(small).levels == NORMAL).all()
    assert run(big).levels[60] == YELLOW


def test_stale_and_non_finite_readings_change_nothing() -> None:
    x = crack(40, {30: 1.2})
    first = run(x)
    rule = CrackJump()
    ts = T0 + (np.arange(40) * EVERY_S * 1000).astype(np.int64)
    later = rule.evaluate(first.state, Batch.of([0, 0], [ts[35], ts[-1] + 600_000], [x[35] + 5.0, np.nan]))
    assert not later.measures.valid.any() and later.levels.tolist() == [YELLOW, YELLOW]
    for key, col in first.state.items():
        np.testing.assert_array_equal(later.state[key], col, err_msg=key)


def test_reason_says_where_when_and_how_big() -> None:
    rule = CrackJump()
    out = run(crack(40, {30: 1.2}))
    ctx = rule.context(out.state, 0, "gh-cm-0002", "slope-12", YELLOW, NORMAL, out.measures, 30)
    reason = rule.describe(ctx)
    assert reason.startswith("crack-opening jump 1.2 mm at slope-12 ≥ yellow jump 1 mm by 0.2 mm")
    assert "between 2023-11-15 03:03 UTC and 2023-11-15 03:13 UTC" in reason
    assert "[rule crack_jump, sensor gh-cm-0002]" in reason and "× the noise σ" in reason


@pytest.mark.parametrize(
    "params",
    [
        {"jump_k_sigma": 0},
        {"jump_blue_mm": 2.0},
        {"jump_learn_rate": 0},
        {"jump_hold_s": 0},
        {"jump_min_points": 0},
        {"jump_sigma_floor_mm": 0},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = CrackJump()
    with pytest.raises(SensorParamError, match="cm-9"):
        rule.configure(rule.init_state(1), [params], ["cm-9"])
