"""QARTOD real-time checks per reading: gross range, spike, rate of change, flat line (flags 1/2/3/4).

U.S. IOOS QARTOD flags (domain-thresholds.md §6): 1 pass, 2 not evaluated, 3 suspect, 4 fail. One
detector runs the four checks over a batch, vectorised over sensors (one step per k-th reading of each
sensor, :func:`detectors.generic.common.reading_steps`), with its state as arrays by sensor row and
every limit a per-sensor ``sp_*`` set point (defaults per kind in :mod:`detectors.quality.tables`):

* **gross range**: ``x < sp_span_min`` or ``x > sp_span_max`` → 4 (outside what the sensor can report
  when working); at the span's ends → 1; both ends NaN → 2.
* **spike** (streaming variant, no look-ahead; as :mod:`detectors.generic.spike`): ``d = |x - median|``
  of the sensor's previous ``window`` accepted values; ``d > sp_spike_fail`` → 4, ``d >
  sp_spike_suspect`` → 3, else 1; 2 until ``min_count`` values or with both thresholds NaN.
* **rate of change**: ``|x - x_prev| / Δt_s > sp_roc_limit_per_s`` → 3, else 1; 2 for the first
  reading, a reading less than ``roc_min_dt_s`` (default 1 s) after the previous accepted one (a
  rate over milliseconds measures timestamp jitter, not the process), or a NaN limit.
* **flat line** (as :mod:`detectors.generic.flat_line`): the current run of readings whose spread
  ``max - min`` stays within ``sp_flat_tolerance``; fail (4) once the run has ``sp_flat_fail_n``
  readings *and* lasted ``sp_flat_fail_s`` seconds, suspect (3) at ``sp_flat_suspect_n`` / ``_s``
  (a NaN count or duration is not required; both NaN: that flag is off); a reading within the
  tolerance of ``sp_flat_exempt`` passes (0 mm of rain, 0 %LEL in clean air, an idle elevator);
  NaN tolerance → 2.

A non-finite reading is not evaluated (2 everywhere) and changes nothing. A gross-range failure is not
learned by the spike and rate-of-change state (a broken value must not become the reference), but
continues the flat-line run (a sensor stuck at an impossible value is also stuck).

The gap check is not here: the lifecycle's deadman (:mod:`detectors.lifecycle.deadman`) already raises
the ``sensor_fault`` for a silent sensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from detectors.base import Batch, State
from detectors.generic import ring
from detectors.generic.common import NO_TS, GenericDetector, quiet_float_errors, reading_steps
from detectors.quality.tables import PARAM_NAMES, KindQuality

PASS, NOT_EVALUATED, SUSPECT, FAIL = 1, 2, 3, 4
#: check order of the flag columns
CHECKS: tuple[str, ...] = ("gross_range", "spike", "rate_of_change", "flat_line")
GROSS_RANGE, SPIKE, RATE_OF_CHANGE, FLAT_LINE = range(4)


@dataclass(frozen=True, slots=True)
class QualityParams:
    """Detector-wide parameters; ``defaults`` fills the ``sp_*`` columns of cold rows."""

    window: int = 5
    min_count: int = 3
    #: readings closer than this to the previous one are not rate-checked (timestamp jitter, bursts)
    roc_min_dt_s: float = 1.0
    defaults: KindQuality = field(default_factory=KindQuality)

    def __post_init__(self) -> None:
        if not 1 <= self.min_count <= self.window:
            raise ValueError("need 1 <= min_count <= window")
        if not self.roc_min_dt_s >= 0:
            raise ValueError("roc_min_dt_s must be >= 0")


@dataclass(frozen=True, slots=True)
class QualityFlags:
    """Per reading (batch order): ``flags`` (n, 4) int8 in :data:`CHECKS` order and ``measures`` (n, 4):
    the quantity each check tested (value, |x - median|, |rate| per s, flat-run age in s)."""

    flags: NDArray[np.int8]
    measures: NDArray[np.float64]

    @property
    def worst(self) -> NDArray[np.int8]:
        """The QARTOD aggregate flag: the highest of the checks' flags (2 where none evaluated)."""
        return self.flags.max(axis=1) if self.flags.size else np.empty(0, dtype=np.int8)


class QartodQuality(GenericDetector[QualityParams]):
    """The four streaming QARTOD checks; score = the aggregate flag (1 pass .. 4 fail)."""

    name: ClassVar[str] = "qartod_quality"

    def init_state(self, capacity: int) -> State:
        p = self.params
        state: State = {
            **ring.cold_ring(capacity, p.window),
            "last_value": np.zeros(capacity, dtype=np.float64),
            "last_ts": np.full(capacity, NO_TS, dtype=np.int64),
            "run_min": np.zeros(capacity, dtype=np.float64),
            "run_max": np.zeros(capacity, dtype=np.float64),
            "run_len": np.zeros(capacity, dtype=np.int64),
            "run_start_ts": np.zeros(capacity, dtype=np.int64),
        }
        for name in PARAM_NAMES:
            state[f"sp_{name}"] = np.full(capacity, float(getattr(p.defaults, name)), dtype=np.float64)
        return state

    def _advance(self, state: State, batch: Batch) -> NDArray[np.float64]:
        q = self.flags_in_place(state, batch)
        scores = q.worst.astype(np.float64)
        scores[~np.isfinite(batch.values)] = np.nan  # not evaluated, as if never sent
        return scores

    @quiet_float_errors
    def flags_in_place(self, state: State, batch: Batch) -> QualityFlags:
        """Flags of every reading of ``batch`` (sorted by row, ts); applies the batch to ``state``."""
        p = self.params
        n = len(batch)
        flags = np.full((n, 4), NOT_EVALUATED, dtype=np.int8)
        measures = np.full((n, 4), np.nan, dtype=np.float64)
        sp = {name: state[f"sp_{name}"] for name in PARAM_NAMES}
        last_value, last_ts = state["last_value"], state["last_ts"]
        run_min, run_max, run_len, run_start = (
            state[k] for k in ("run_min", "run_max", "run_len", "run_start_ts")
        )
        finite = np.isfinite(batch.values)
        steps = reading_steps(batch)
        for idx in steps:
            whole = len(steps) == 1  # one reading per sensor: the step is the batch, in order
            if whole:
                r, x, ts, ok, f, m = batch.rows, batch.values, batch.ts_ms, finite, flags, measures
            else:
                r = batch.rows[idx]
                x, ts, ok = batch.values[idx], batch.ts_ms[idx], finite[idx]
                f = np.full((idx.size, 4), NOT_EVALUATED, dtype=np.int8)
                m = np.full((idx.size, 4), np.nan)
            # gross range
            lo, hi = sp["span_min"][r], sp["span_max"][r]
            outside = (x < lo) | (x > hi)
            gross_off = (np.isnan(lo) & np.isnan(hi)) | ~ok
            f[:, GROSS_RANGE] = np.where(gross_off, NOT_EVALUATED, np.where(outside, FAIL, PASS))
            m[:, GROSS_RANGE] = x
            good = ok & ~outside
            all_good = bool(good.all())  # the common case: no compressions below
            # spike against the median of the previous accepted values
            filled = state["filled"][r]
            s_sus, s_fail = sp["spike_suspect"][r], sp["spike_fail"][r]
            on = ~(np.isnan(s_sus) & np.isnan(s_fail)) & (filled >= p.min_count) & ok
            if on.any():  # the median only where the spike check is configured and warm
                dev = np.full(idx.size, np.nan)
                dev[on] = np.abs(x[on] - ring.median_rows_inplace(state["buf"][r[on]], filled[on]))
                f[:, SPIKE] = np.where(dev > s_fail, FAIL, np.where(dev > s_sus, SUSPECT, PASS))
                f[~on, SPIKE] = NOT_EVALUATED
                m[:, SPIKE] = dev
            if all_good:
                ring.push(state, r, x)
            else:
                ring.push(state, r[good], x[good])
            # rate of change since the previous accepted value
            prev_ts = last_ts[r]
            seen = prev_ts != NO_TS
            dt_ms = np.where(seen, ts - prev_ts, 0)  # (wraps where not seen, and is replaced)
            newer = dt_ms > 0
            rate = np.abs(x - last_value[r]) / np.where(newer, dt_ms, 1) * 1000.0
            lim = sp["roc_limit_per_s"][r]
            has_rate = (dt_ms >= max(p.roc_min_dt_s * 1000.0, 1.0)) & good  # dt ≥ 1 ms: seen before
            rated = has_rate & ~np.isnan(lim)
            f[:, RATE_OF_CHANGE] = np.where(rated, np.where(rate > lim, SUSPECT, PASS), NOT_EVALUATED)
            m[:, RATE_OF_CHANGE] = np.where(has_rate, rate, np.nan)
            move = good & (~seen | newer)
            if bool(move.all()):
                last_value[r], last_ts[r] = x, ts
            else:
                last_value[r[move]] = x[move]
                last_ts[r[move]] = ts[move]
            # flat line: run of readings within tolerance
            tol = sp["flat_tolerance"][r]
            run_lo = np.minimum(run_min[r], x)
            run_hi = np.maximum(run_max[r], x)
            n_run = run_len[r]
            cont = (run_hi - run_lo <= tol) & (n_run > 0)
            new_n = np.where(cont, n_run + 1, 1)
            new_start = np.where(cont, run_start[r], ts)
            age_s = np.maximum(ts - new_start, 0) / 1000.0
            fail = _reached(new_n, age_s, sp["flat_fail_n"][r], sp["flat_fail_s"][r])
            sus = _reached(new_n, age_s, sp["flat_suspect_n"][r], sp["flat_suspect_s"][r])
            exempt = np.abs(x - sp["flat_exempt"][r]) <= tol
            f[:, FLAT_LINE] = np.where(
                np.isnan(tol) | ~ok,
                NOT_EVALUATED,
                np.where(exempt, PASS, np.where(fail, FAIL, np.where(sus, SUSPECT, PASS))),
            )
            m[:, FLAT_LINE] = np.where(ok, age_s, np.nan)
            if bool(ok.all()):
                run_min[r] = np.where(cont, run_lo, x)
                run_max[r] = np.where(cont, run_hi, x)
                run_len[r] = new_n
                run_start[r] = new_start
            else:
                rr = r[ok]
                run_min[rr] = np.where(cont, run_lo, x)[ok]
                run_max[rr] = np.where(cont, run_hi, x)[ok]
                run_len[rr] = new_n[ok]
                run_start[rr] = new_start[ok]
            if not whole:
                flags[idx], measures[idx] = f, m
        return QualityFlags(flags, measures)

    @classmethod
    def conformance_examples(cls) -> Sequence[QartodQuality]:
        return (
            cls(QualityParams()),
            cls(
                QualityParams(
                    window=3,
                    min_count=1,
                    defaults=KindQuality(
                        span_min=-2.0,
                        span_max=2.0,
                        spike_suspect=0.5,
                        spike_fail=1.5,
                        roc_limit_per_s=0.5,
                        flat_tolerance=0.5,
                        flat_suspect_n=2.0,
                        flat_fail_n=3.0,
                        flat_suspect_s=float("nan"),
                        flat_fail_s=float("nan"),
                    ),
                )
            ),
        )


def _reached(
    n: NDArray[np.int64], age_s: NDArray[np.float64], need_n: NDArray[np.float64], need_s: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """A run reached a flat-line flag: every configured criterion (count, duration) met, at least one set."""
    by_n = np.isnan(need_n) | (n >= need_n)
    by_s = np.isnan(need_s) | (age_s >= need_s)
    return by_n & by_s & ~(np.isnan(need_n) & np.isnan(need_s))
