"""Pure-Python, one-reading-at-a-time versions of the generic detectors: test oracles and benchmark baselines.

Each reference keeps per-sensor state in a dict keyed by row (created on a sensor's first reading) and
scores a reading with ``step_one(row, ts_ms, value)``, using the same formulas, in the same order, as the
vectorised detector, so scores agree to the last bit on ordinary data. The property tests compare the
two; ``benchmarks/detectors/bench.py`` times these loops against the numpy versions. Not for production.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any

from detectors.generic.cusum import CusumParams
from detectors.generic.ewma_z import EwmaZParams
from detectors.generic.flat_line import FlatLineParams, FlatLineUnit
from detectors.generic.gap import GapParams
from detectors.generic.rate_of_change import RateOfChangeParams
from detectors.generic.robust_z import MAD_TO_STD, RobustZParams
from detectors.generic.spike import SpikeParams
from detectors.generic.static_limits import StaticLimitsParams

NAN = math.nan


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics (inf or NaN instead of ZeroDivisionError), like numpy."""
    if b == 0.0:
        return NAN if a == 0.0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


def _set_point(overrides: dict[int, float], row: int, default: float) -> float:
    return overrides.get(row, default)


class ReferenceStaticLimits:
    def __init__(self, params: StaticLimitsParams, high: dict[int, list[float]] | None = None) -> None:
        self.p = params
        pad = params.levels
        self.default_high = list(params.high) + [NAN] * (pad - len(params.high))
        self.default_low = list(params.low) + [NAN] * (pad - len(params.low))
        self.high = high or {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        high = self.high.get(row, self.default_high)
        low = self.default_low
        configured = any(math.isfinite(h) for h in high) or any(math.isfinite(lo) for lo in low)
        if not (configured and math.isfinite(x)):
            return NAN
        return float(max(sum(x >= h for h in high), sum(x <= lo for lo in low)))


class ReferenceEwmaZ:
    def __init__(self, params: EwmaZParams) -> None:
        self.p = params
        self.state: dict[int, tuple[float, float, int]] = {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        p = self.p
        mean, var, count = self.state.get(row, (0.0, 0.0, 0))
        score = NAN
        if math.isfinite(x) and count >= p.min_count:
            score = _div(abs(x - mean), max(math.sqrt(var), p.min_std))
        if math.isfinite(x):
            new = _ew(mean, var, count, x, p.alpha)
            if new is not None:
                self.state[row] = (new[0], new[1], count + 1)
        return score


def _ew(mean: float, var: float, count: int, x: float, alpha: float) -> tuple[float, float] | None:
    w = max(alpha, 1.0 / (count + 1.0))
    diff = x - mean
    new_mean = x if count == 0 else mean + w * diff
    new_var = (1.0 - w) * (var + w * diff * diff)
    return (new_mean, new_var) if math.isfinite(new_mean) and math.isfinite(new_var) else None


class ReferenceCusum:
    def __init__(self, params: CusumParams) -> None:
        self.p = params
        self.state: dict[int, list[Any]] = {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        p = self.p
        st = self.state.setdefault(row, [0.0, 0.0, 0, 0.0, 0.0])
        mean, var, count, s_hi, s_lo = st
        score = NAN
        if math.isfinite(x) and count >= p.min_count:
            z = _div(x - mean, max(math.sqrt(var), p.min_std))
            z = min(max(z, -p.z_clip), p.z_clip)
            if math.isfinite(z):
                st[3] = s_hi = max(0.0, s_hi + z - p.k)
                st[4] = s_lo = max(0.0, s_lo - z - p.k)
                score = max(s_hi, s_lo)
        if math.isfinite(x):
            new = _ew(mean, var, count, x, p.alpha)
            if new is not None:
                st[0], st[1], st[2] = new[0], new[1], count + 1
        return score


class _ReferenceRing:
    def __init__(self, window: int) -> None:
        self.window = window
        self.rings: dict[int, deque[float]] = {}

    def ring(self, row: int) -> deque[float]:
        ring = self.rings.get(row)
        if ring is None:
            ring = self.rings[row] = deque(maxlen=self.window)
        return ring


class ReferenceRobustZ(_ReferenceRing):
    def __init__(self, params: RobustZParams) -> None:
        super().__init__(params.window)
        self.p = params
        self.baseline: dict[int, tuple[float, float]] = {}  # row -> (median, scale) in force
        self.pushed: dict[int, int] = {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        ring = self.ring(row)
        if not math.isfinite(x):
            return NAN
        pushed = self.pushed.get(row, 0)
        if pushed % self.p.hop == 0:
            med = scale = NAN
            if len(ring) >= self.p.min_count:
                med = statistics.median(ring)
                mad = statistics.median([abs(v - med) for v in ring])
                scale = max(MAD_TO_STD * mad, self.p.min_scale)
            self.baseline[row] = (med, scale)
        med, scale = self.baseline.get(row, (NAN, NAN))
        score = NAN if math.isnan(scale) else _div(abs(x - med), scale)
        ring.append(x)
        self.pushed[row] = pushed + 1
        return score


class ReferenceSpike(_ReferenceRing):
    def __init__(self, params: SpikeParams) -> None:
        super().__init__(params.window)
        self.p = params

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        ring = self.ring(row)
        if not math.isfinite(x):
            return NAN
        score = abs(x - statistics.median(ring)) if len(ring) >= self.p.min_count else NAN
        ring.append(x)
        return score


class ReferenceRateOfChange:
    def __init__(self, params: RateOfChangeParams, limit_per_s: dict[int, float] | None = None) -> None:
        self.p = params
        self.limit = limit_per_s or {}
        self.state: dict[int, list[Any]] = {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        p = self.p
        st = self.state.setdefault(row, [0.0, None, 0.0, 0])
        last_value, last_ts, ms, n = st
        ok = math.isfinite(x)
        seen = last_ts is not None
        dt_ms = ts_ms - last_ts if seen else 0
        score = NAN
        if ok and seen and dt_ms > 0:
            rate = (x - last_value) / (dt_ms / 1000.0)
            lim = _set_point(self.limit, row, p.limit_per_s)
            learned = max(math.sqrt(ms), p.min_rate_scale) if n >= p.min_count else NAN
            score = _div(abs(rate), lim if math.isfinite(lim) else learned)
            sq = rate * rate
            new_ms = sq if n == 0 else (1.0 - p.alpha) * ms + p.alpha * sq
            if math.isfinite(new_ms):
                st[2], st[3] = new_ms, n + 1
        if ok and (not seen or dt_ms > 0):
            st[0], st[1] = x, ts_ms
        return score


class ReferenceFlatLine:
    def __init__(self, params: FlatLineParams, tolerance: dict[int, float] | None = None) -> None:
        self.p = params
        self.tolerance = tolerance or {}
        self.state: dict[int, list[Any]] = {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        if not math.isfinite(x):
            return NAN
        p = self.p
        tol = _set_point(self.tolerance, row, p.tolerance)
        st = self.state.setdefault(row, [0.0, 0.0, 0, 0])
        run_min, run_max, n, start = st
        lo, hi = min(run_min, x), max(run_max, x)
        if n > 0 and hi - lo <= tol:
            st[:] = [lo, hi, n + 1, start]
        else:
            st[:] = [x, x, 1, ts_ms]
        if abs(x - p.exempt_value) <= tol:
            return 0.0
        if p.unit is FlatLineUnit.SECONDS:
            return max(ts_ms - st[3], 0) / 1000.0
        return float(st[2])


class ReferenceGap:
    def __init__(self, params: GapParams, interval_ms: dict[int, float] | None = None) -> None:
        self.p = params
        self.interval = interval_ms or {}
        self.state: dict[int, list[Any]] = {}

    def step_one(self, row: int, ts_ms: int, x: float) -> float:
        p = self.p
        st = self.state.get(row)
        if st is None:
            self.state[row] = [ts_ms, 0.0, 0]
            return NAN
        last, ew, n = st
        dt = float(ts_ms - last)
        score = NAN
        if dt > 0:
            sp = _set_point(self.interval, row, p.interval_ms)
            expected = sp if math.isfinite(sp) and sp > 0 else (ew if n >= p.min_count else NAN)
            score = _div(dt, expected)
            if n < p.min_count or dt <= p.learn_max_ratio * ew:
                st[1] = dt if n == 0 else (1.0 - p.alpha) * ew + p.alpha * dt
                st[2] = n + 1
        st[0] = max(last, ts_ms)
        return score
