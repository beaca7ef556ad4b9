"""Geohazard rule: sudden crack-opening jump, told apart from a sensor reset.

A crack meter reports cumulative opening (mm). Its kinematics (tangent angle, acceleration) are the
landslide rules'; this rule catches what a smoothed rate hides: a sudden jump between two readings
(domain-thresholds.md §3.2: "sudden jump > k·σ (distinguish from sensor reset)", site-specific [P]).

Each reading's increment is compared with what the crack's own recent rate predicts:
``residual = Δx − μ·Δt``, where μ is an exponentially weighted mean opening rate and σ a robust
exponentially weighted noise scale (mean absolute residual × √(π/2)), both learned only from ordinary
readings. With σ_eff = max(σ, ``jump_sigma_floor_mm``) and threshold ``max(jump_k_sigma·σ_eff, jump_min_mm)``:

* **jump** (hazard): residual ≥ threshold and the new value is not at zero. The crack opened suddenly.
* **reset** (no hazard): residual ≤ −threshold (an opening cannot close by many σ in one reading: the
  meter was re-zeroed, slipped or was replaced), or a change beyond the threshold that lands within
  ``jump_reset_band_mm`` of zero. The series is re-based on the new value and the reset is counted.

The measure is the largest jump of the last ``jump_hold_s`` (0 when none): the level stays for ``jump_hold_s``
after the last jump and then clears. Levels by jump size, all [P]: blue ≥ 0.5 mm, yellow ≥ 1 mm,
orange ≥ 3 mm, red ≥ 10 mm. The rule needs ``jump_min_points`` ordinary increments before it can call a jump.
A reading not later than the sensor's newest, or non-finite, is not used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.domain.geohazard import duration_text, when_text
from detectors.domain.policy import LevelThresholds
from detectors.domain.ring import EMPTY_TS
from detectors.domain.rule import (
    DomainRule,
    Measures,
    TransitionContext,
    change_reason,
    fmt,
)

#: mean absolute deviation → σ for Gaussian noise
MAD_TO_SIGMA = math.sqrt(math.pi / 2.0)
LEVEL_KEYS = ("jump_blue_mm", "jump_yellow_mm", "jump_orange_mm", "jump_red_mm")
#: state columns (without the ``cj_`` prefix) copied into each reading's measures for alert reasons
_INFO = ("jump_from", "jump_to", "jump_at", "jump_prev_ts", "jump_sigma", "resets")


@dataclass(frozen=True, slots=True)
class CrackJumpParams:
    """Defaults of the per-sensor keys (registry ``params``); all [P]."""

    jump_k_sigma: float = 6.0
    jump_min_mm: float = 0.2
    jump_sigma_floor_mm: float = 0.005
    jump_reset_band_mm: float = 0.2
    jump_min_points: float = 10
    jump_learn_rate: float = 0.05
    jump_hold_s: float = 86_400.0
    jump_blue_mm: float = 0.5
    jump_yellow_mm: float = 1.0
    jump_orange_mm: float = 3.0
    jump_red_mm: float = 10.0


class CrackJump(DomainRule[CrackJumpParams]):
    """Largest sudden crack-opening jump of the last ``jump_hold_s`` (mm), resets excluded."""

    name = "crack_jump"
    kinds: ClassVar[tuple[str, ...]] = ("crack_meter",)
    source = "crack-meter jump vs its noise, resets excluded ([P], domain-thresholds §3.2)"
    unit = "mm"
    sensor_keys: ClassVar[tuple[str, ...]] = (
        "jump_k_sigma",
        "jump_min_mm",
        "jump_sigma_floor_mm",
        "jump_reset_band_mm",
        "jump_min_points",
        "jump_learn_rate",
        "jump_hold_s",
        *LEVEL_KEYS,
    )
    count_keys: ClassVar[tuple[str, ...]] = ("jump_min_points",)

    @classmethod
    def conformance_examples(cls) -> Sequence[CrackJump]:
        return (
            cls(
                CrackJumpParams(
                    jump_min_points=3,
                    jump_hold_s=5.0,
                    jump_blue_mm=0.5,
                    jump_yellow_mm=2.0,
                    jump_orange_mm=4.0,
                )
            ),
        )

    def __init__(self, params: CrackJumpParams | None = None) -> None:
        super().__init__(params or CrackJumpParams())

    def _init_measure_state(self, capacity: int) -> State:
        f = np.float64
        return {
            "cj_prev_x": np.full(capacity, np.nan, dtype=f),
            "cj_prev_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "cj_rate": np.zeros(capacity, dtype=f),  # mm/s
            "cj_mad": np.zeros(capacity, dtype=f),
            "cj_count": np.zeros(capacity, dtype=np.int64),
            "cj_jump_mm": np.zeros(capacity, dtype=f),
            "cj_jump_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "cj_jump_from": np.full(capacity, np.nan, dtype=f),
            "cj_jump_to": np.full(capacity, np.nan, dtype=f),
            "cj_jump_prev_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "cj_jump_at": np.full(capacity, EMPTY_TS, dtype=np.int64),
            "cj_jump_sigma": np.full(capacity, np.nan, dtype=f),
            "cj_resets": np.zeros(capacity, dtype=np.int64),
            "cj_reset_ts": np.full(capacity, EMPTY_TS, dtype=np.int64),
        }

    def _check_sensor_columns(self, state: State, labels: Sequence[str]) -> None:
        sets = [state[f"sp_{k}"] for k in LEVEL_KEYS]
        ordered = (sets[0] > 0) & (sets[0] <= sets[1]) & (sets[1] <= sets[2]) & (sets[2] <= sets[3])
        checks = (
            (state["sp_jump_k_sigma"] <= 0, "needs jump_k_sigma > 0"),
            (state["sp_jump_min_mm"] < 0, "needs jump_min_mm ≥ 0"),
            (state["sp_jump_sigma_floor_mm"] <= 0, "needs jump_sigma_floor_mm > 0"),
            (state["sp_jump_reset_band_mm"] < 0, "needs jump_reset_band_mm ≥ 0"),
            (
                (state["sp_jump_learn_rate"] <= 0) | (state["sp_jump_learn_rate"] > 1),
                "needs 0 < jump_learn_rate ≤ 1",
            ),
            (state["sp_jump_hold_s"] <= 0, "needs jump_hold_s > 0"),
            (~ordered, "needs 0 < jump_blue_mm ≤ jump_yellow_mm ≤ jump_orange_mm ≤ jump_red_mm"),
        )
        self._reject_first_bad(checks, labels)

    def _measure(self, state: State, batch: Batch, steps: list[NDArray[np.int64]]) -> Measures:
        n = len(batch)
        x = self.input_values(batch)
        finite = np.isfinite(x)
        valid = np.zeros(n, dtype=bool)
        held = np.full(n, np.nan)
        info = {key: np.full(n, np.nan) for key in _INFO}
        for idx in steps:
            rows, ts = batch.rows[idx], batch.ts_ms[idx]
            ok = finite[idx] & (ts > state["cj_prev_ts"][rows])
            valid[idx] = ok
            r, t, xv = rows[ok], ts[ok], x[idx][ok]
            sp = {k: state[f"sp_{k}"][r] for k in self.sensor_keys}
            prev, prev_ts = state["cj_prev_x"][r], state["cj_prev_ts"][r]
            has_prev = np.isfinite(prev)
            dt_s = np.where(has_prev, (t - prev_ts) * 1e-3, 0.0)
            rate = state["cj_rate"][r]
            resid = np.where(has_prev, xv - prev - rate * dt_s, 0.0)
            sigma = np.maximum(state["cj_mad"][r] * MAD_TO_SIGMA, sp["jump_sigma_floor_mm"])
            thr = np.maximum(sp["jump_k_sigma"] * sigma, sp["jump_min_mm"])
            warm = has_prev & (state["cj_count"][r] >= sp["jump_min_points"])
            near_zero = np.abs(xv) <= sp["jump_reset_band_mm"]
            jump = warm & (resid >= thr) & ~near_zero
            reset = warm & ((resid <= -thr) | (near_zero & (np.abs(resid) >= thr)))
            learn = has_prev & ~jump & ~reset
            lr = sp["jump_learn_rate"]
            first = learn & (state["cj_count"][r] == 0)
            step_rate = np.where(
                dt_s > 0, (xv - np.where(has_prev, prev, xv)) / np.where(dt_s > 0, dt_s, 1), 0
            )
            state["cj_rate"][r] = np.where(
                learn, np.where(first, step_rate, rate + lr * (step_rate - rate)), rate
            )
            mad = state["cj_mad"][r]
            state["cj_mad"][r] = np.where(
                learn, np.where(first, np.abs(resid), mad + lr * (np.abs(resid) - mad)), mad
            )
            state["cj_count"][r] += learn
            # a jump: keep the largest within jump_hold_s, and hold from the newest one
            old = state["cj_jump_mm"][r]
            live = (state["cj_jump_ts"][r] != EMPTY_TS) & (
                t - state["cj_jump_ts"][r] <= sp["jump_hold_s"] * 1000
            )
            bigger = jump & (~live | (resid > old))
            for key, value in (
                ("cj_jump_mm", resid),
                ("cj_jump_from", prev),
                ("cj_jump_to", xv),
                ("cj_jump_prev_ts", prev_ts),
                ("cj_jump_at", t),
                ("cj_jump_sigma", sigma),
            ):
                state[key][r[bigger]] = value[bigger]
            state["cj_jump_ts"][r[jump]] = t[jump]
            state["cj_resets"][r] += reset
            state["cj_reset_ts"][r[reset]] = t[reset]
            state["cj_prev_x"][r] = xv
            state["cj_prev_ts"][r] = t
            # measure: the largest jump still held (0 when none; NaN while learning the noise)
            jt = state["cj_jump_ts"][r]
            alive = (jt != EMPTY_TS) & (t - jt <= sp["jump_hold_s"] * 1000)
            value = np.where(alive, state["cj_jump_mm"][r], np.where(warm | jump, 0.0, np.nan))
            at = idx[ok]
            held[at] = value
            for key in _INFO:
                info[key][at] = state[f"cj_{key}"][r]
        return Measures(
            score=np.where(valid, held, np.nan),
            per_level=np.repeat(held[:, None], 4, axis=1),
            valid=valid,
            extra=info,
        )

    def _thresholds(self, state: State, rows: NDArray[np.int32]) -> LevelThresholds:
        set_points = np.stack([state[f"sp_{k}"][rows] for k in LEVEL_KEYS], axis=1)
        return LevelThresholds(set_points, set_points, np.ones(rows.size, dtype=np.float64))

    def describe(self, ctx: TransitionContext) -> str:
        e, sp = ctx.extra, ctx.sp
        hold = duration_text(sp["jump_hold_s"])
        if ctx.rising:
            sigma = float(e["jump_sigma"])
            detail = (
                f"; opening {fmt(e['jump_from'], 3)} → {fmt(e['jump_to'], 3)} mm between "
                f"{when_text(e['jump_prev_ts'])} and {when_text(e['jump_at'])}, "
                f"{fmt(ctx.score / sigma, 0)} × the noise σ {fmt(sigma, 3)} mm "
                f"(jump threshold {fmt(sp['jump_k_sigma'], 0)}σ, at least {fmt(sp['jump_min_mm'])} mm); "
                f"holds {hold}"
            )
        else:
            detail = f"; the last jump ({when_text(e['jump_at'])}) is older than {hold}"
        if e["resets"]:
            detail += f"; {int(e['resets'])} sensor reset(s) seen and not counted as jumps"
        return change_reason(
            ctx,
            self.name,
            what=("crack-opening jump",) * 4,
            set_names=("blue jump", "yellow jump", "orange jump", "red jump"),
            unit=self.unit,
            source=self.source,
            detail=detail,
            digits=2,
        )
