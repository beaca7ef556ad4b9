"""Throughput and memory of the generic detectors, side by side with a pure-Python loop and river.

For every generic detector (default parameters, plus ``robust_z`` with ``hop=1``, its exactly sliding
window) and 1,000 / 100,000 / 1,000,000 sensors, one batch of 10,000 readings (rows drawn uniformly from
the sensors) is timed through:

* ``numpy step``: the pure contract, ``Detector.step`` (copies the learned state arrays every batch);
* ``numpy in place``: ``GenericDetector.step_in_place`` (same result, no copy; what an owning worker
  can call);
* ``python loop``: the same statistic one reading at a time (detectors/generic/reference.py);
* river ``anomaly.GaussianScorer()`` and ``anomaly.HalfSpaceTrees()`` with default settings, one
  instance per sensor, ``score_one`` then ``learn_one`` per reading.

Every implementation is first given 0-7 readings per sensor, so the sensors are not in lock-step
(a hopping detector then refreshes some of them in every batch), and then warmed on the timed batch's
own sensors (the batch replayed earlier in time until each detector is past its warm-up; river's
GaussianScorer past its 100-reading grace period, HalfSpaceTrees past its 250-reading window), so all
of them time their steady state. There is
one GaussianScorer for every sensor, as a deployment would hold them (about 3.3 GB and a minute to
build at 1,000,000 sensors); for comparison it is also timed with instances built only for the sensors
of the timed batch, which keeps them all in cache. HalfSpaceTrees is run on 200 sensors and 2,000
readings only (about 1 MB and ~20 µs per instance-reading; a million would need a terabyte); its
per-reading cost is used for every sensor count. All numbers are from one process on one core
(numpy's element-wise kernels are single-threaded; no BLAS is involved).

Every timed batch is measured on the wall clock and in CPU time of the timing thread
(``time.thread_time``); each figure is the best of several batches (the machine is shared: the best
batch is the least disturbed one), wall and CPU separately. The numpy timings run right after a
``gc.collect()``, so they start with cold caches, as in a worker that decoded and wrote out between
batches; river and the Python loop are timed without it. river's GaussianScorer is timed before and
after the detectors of each sensor count and the better of the two is kept, which can only flatter river.

Usage: ``python benchmarks/detectors/bench.py [--quick] [--detectors a,b] [--sensors n,m] [--write]``;
``--write`` replaces the ``## Detector throughput`` section of benchmarks/RESULTS.md (full runs only).
Needs the ``bench`` extra (river).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.pipeline.report import RESULTS, write_section
from detectors.base import Batch
from detectors.generic import (
    Cusum,
    CusumParams,
    EwmaZ,
    EwmaZParams,
    FlatLine,
    FlatLineParams,
    Gap,
    GapParams,
    GenericDetector,
    RateOfChange,
    RateOfChangeParams,
    RobustZ,
    RobustZParams,
    Spike,
    SpikeParams,
    StaticLimits,
    StaticLimitsParams,
)
from detectors.generic import reference as ref

BATCH = 10_000
SENSOR_COUNTS = (1_000, 100_000, 1_000_000)
T0_MS = 1_700_000_000_000
SECTION = "## Detector throughput"
#: the z-score-type detectors compared with river GaussianScorer; `robust_z (hop 1)` is the exactly
#: sliding window, reported next to the shipped default
EXACT_ROBUST_Z = "robust_z (hop 1)"
Z_SCORE_TYPE = ("ewma_z", "robust_z", EXACT_ROBUST_Z, "cusum")


@dataclass(frozen=True)
class Subject:
    detector: GenericDetector[Any]
    reference: Callable[[], Any]
    warm_readings: int  # readings per sensor before the detector is warm
    label: str = ""  # the row name in the tables (default: the detector's name)

    @property
    def name(self) -> str:
        return self.label or self.detector.name


def subjects() -> list[Subject]:
    lim = StaticLimitsParams(levels=4, high=(1.0, 2.0, 3.0, 4.0), low=(-1.0, -2.0, -3.0, -4.0))
    roc, rz, ew, cs = RateOfChangeParams(), RobustZParams(), EwmaZParams(), CusumParams()
    rz1 = RobustZParams(hop=1)
    fl, gp, sp = FlatLineParams(), GapParams(), SpikeParams()
    return [
        Subject(StaticLimits(lim), lambda: ref.ReferenceStaticLimits(lim), 1),
        Subject(RateOfChange(roc), lambda: ref.ReferenceRateOfChange(roc), roc.min_count + 2),
        Subject(RobustZ(rz), lambda: ref.ReferenceRobustZ(rz), rz.window),
        Subject(RobustZ(rz1), lambda: ref.ReferenceRobustZ(rz1), rz1.window, EXACT_ROBUST_Z),
        Subject(EwmaZ(ew), lambda: ref.ReferenceEwmaZ(ew), ew.min_count + 1),
        Subject(Cusum(cs), lambda: ref.ReferenceCusum(cs), cs.min_count + 1),
        Subject(FlatLine(fl), lambda: ref.ReferenceFlatLine(fl), 2),
        Subject(Gap(gp), lambda: ref.ReferenceGap(gp), gp.min_count + 2),
        Subject(Spike(sp), lambda: ref.ReferenceSpike(sp), sp.window),
    ]


@dataclass(frozen=True)
class Workload:
    """One timed batch over ``sensors`` and the warm-up replays of the same rows earlier in time."""

    sensors: int
    rows: np.ndarray
    offsets_ms: np.ndarray
    values: np.ndarray

    @classmethod
    def make(cls, sensors: int, n: int, seed: int = 0) -> Workload:
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, sensors, n).astype(np.int32)
        offsets = np.sort(rng.integers(0, 60_000, n)).astype(np.int64)
        level = (rows % 7).astype(np.float64)
        values = level + rng.normal(0.0, 0.5, n)
        spikes = rng.random(n) < 0.01
        values[spikes] += rng.choice([-8.0, 8.0], int(spikes.sum()))
        return cls(sensors, rows, offsets, values)

    def batch(self, replay: int) -> Batch:
        """The batch shifted to its ``replay``-th minute (replays are consecutive in time)."""
        noise = np.random.default_rng(replay).normal(0.0, 0.5, self.values.size) if replay else 0.0
        return Batch.of(self.rows, T0_MS + replay * 60_000 + self.offsets_ms, self.values + noise)

    def stagger(self, seed: int = 1) -> Batch:
        """0 to 7 readings per sensor, before the replays: sensors that are not in lock-step.

        Real sensors start at different times and miss readings, so a detector with per-sensor work
        every few readings (`robust_z` with `hop > 1`) does it for some sensors in every batch; with
        every sensor in step, some timed batches would do none of it and the best batch would flatter.
        """
        rng = np.random.default_rng(seed)
        counts = rng.integers(0, 8, self.sensors)
        rows = np.repeat(np.arange(self.sensors, dtype=np.int32), counts)
        ts = T0_MS - 3_600_000 + np.arange(rows.size, dtype=np.int64)  # within the hour before
        values = (rows % 7).astype(np.float64) + rng.normal(0.0, 0.5, rows.size)
        return Batch.of(rows, ts, values)

    def replays_for(self, readings_per_sensor: int) -> int:
        per_batch = max(1, self.rows.size // min(self.sensors, self.rows.size))
        return math.ceil(readings_per_sensor / per_batch) + 1


@dataclass(frozen=True)
class Rate:
    """Best readings per second of a timed batch: wall clock and CPU time of the timing thread."""

    wall: float
    cpu: float

    @classmethod
    def best(cls, readings: int, times: list[tuple[float, float]]) -> Rate:
        return cls(readings / min(w for w, _ in times), readings / max(min(c for _, c in times), 1e-9))

    def better(self, other: Rate) -> Rate:
        return Rate(max(self.wall, other.wall), max(self.cpu, other.cpu))


class Timer:
    """Wall and thread CPU time of a block: ``with Timer() as t: ...`` then ``t.times``."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.times = (time.perf_counter() - self.wall, time.thread_time() - self.cpu)


@dataclass(frozen=True)
class NumpyRates:
    """A detector timed warm (one ``gc.collect()``, then GC off and batches back to back, as ``timeit``
    does) and cold (``gc.collect()`` right before each batch, which evicts the caches the way a
    worker's decoding and sink writing between batches would)."""

    warm: Rate
    cold: Rate


def time_numpy(subject: Subject, work: Workload, in_place: bool, repeats: int) -> NumpyRates:
    det = subject.detector
    state = det.init_state(work.sensors)
    det.step_in_place(state, work.stagger())
    warm = work.replays_for(subject.warm_readings)
    for r in range(warm):
        det.step_in_place(state, work.batch(r))
    batches = [work.batch(warm + i) for i in range(2 * repeats)]
    warm_times, cold_times = [], []
    gc.collect()
    gc.disable()
    try:
        for i, b in enumerate(batches):
            if i >= repeats:
                gc.collect()
            with Timer() as t:
                if in_place:
                    det.step_in_place(state, b)
                else:
                    _, state = det.step(state, b)
            (warm_times if i < repeats else cold_times).append(t.times)
    finally:
        gc.enable()
    return NumpyRates(Rate.best(len(batches[0]), warm_times), Rate.best(len(batches[0]), cold_times))


def _as_lists(batch: Batch) -> tuple[list[int], list[int], list[float]]:
    return batch.rows.tolist(), batch.ts_ms.tolist(), batch.values.tolist()


def time_python(subject: Subject, work: Workload, repeats: int = 7) -> Rate:
    oracle = subject.reference()
    warm = work.replays_for(subject.warm_readings)
    for b in [work.stagger(), *(work.batch(r) for r in range(warm))]:
        for row, ts, x in zip(*_as_lists(b), strict=True):
            oracle.step_one(row, ts, x)
    step = oracle.step_one
    times = []
    for i in range(repeats):
        rows, ts_ms, values = _as_lists(work.batch(warm + i))
        with Timer() as t:
            for row, ts, x in zip(rows, ts_ms, values, strict=True):
                step(row, ts, x)
        times.append(t.times)
    return Rate.best(len(rows), times)


def river_gaussians(rows: Any) -> dict[int, Any]:
    """One default ``GaussianScorer`` per row, each past its 100-reading grace period."""
    from river import anomaly

    models = {}
    for r in rows:
        m = anomaly.GaussianScorer()
        for i in range(101):
            m.learn_one(None, float(i % 7))
        models[r] = m
    return models


def time_river_gaussian(models: dict[int, Any], work: Workload, repeats: int = 15) -> Rate:
    times = []
    for i in range(repeats):
        rows, _, values = _as_lists(work.batch(i))
        with Timer() as t:
            for row, y in zip(rows, values, strict=True):
                m = models[row]
                m.score_one(None, y)
                m.learn_one(None, y)
        times.append(t.times)
    return Rate.best(len(rows), times)


def time_river_hst(sensors: int = 200, n: int = 2_000) -> float:
    from river import anomaly

    rng = np.random.default_rng(1)
    rows = rng.integers(0, sensors, n).tolist()
    xs = [{"value": v} for v in rng.random(n).tolist()]  # default limits assume features in [0, 1]
    models = {r: anomaly.HalfSpaceTrees() for r in range(sensors)}
    for m in models.values():  # past the first window (250 readings)
        for x in [{"value": v} for v in rng.random(251).tolist()]:
            m.learn_one(x)
    t = time.perf_counter()
    for row, x in zip(rows, xs, strict=True):
        m = models[row]
        m.score_one(x)
        m.learn_one(x)
    return n / (time.perf_counter() - t)


def river_bytes_per_instance() -> dict[str, float]:
    from river import anomaly

    out = {}
    for name, make, count, feed in (
        ("GaussianScorer", anomaly.GaussianScorer, 1_000, lambda m, v: m.learn_one(None, v)),
        ("HalfSpaceTrees", anomaly.HalfSpaceTrees, 5, lambda m, v: m.learn_one({"value": v})),
    ):
        gc.collect()
        tracemalloc.start()
        models = [make() for _ in range(count)]
        for m in models:
            for i in range(300):
                feed(m, (i % 10) / 10)
        out[name] = tracemalloc.get_traced_memory()[0] / count
        tracemalloc.stop()
        del models
    return out


def state_bytes_per_sensor(det: GenericDetector[Any], capacity: int = 1_000) -> float:
    return sum(v.nbytes for v in det.init_state(capacity).values()) / capacity


def machine() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        import river

        river_version = river.__version__
    except ImportError:
        river_version = "not installed"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "river": river_version,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def fmt_rate(r: float) -> str:
    if r >= 1e6:
        return f"{r / 1e6:.2f} M/s"
    return f"{r / 1e3:.0f} k/s"


@dataclass
class Results:
    table: list[list[str]]
    #: (detector, sensors) -> (numpy step, numpy in place, river GaussianScorer)
    z_rates: dict[tuple[str, int], tuple[NumpyRates, NumpyRates, Rate]]
    river_bytes: dict[str, float]
    hst: float
    #: sensors -> river GaussianScorer with instances built only for the timed batch's sensors
    river_touched: dict[int, Rate]


def run(counts: tuple[int, ...], repeats: int, names: tuple[str, ...] | None = None) -> Results:
    subs = [s for s in subjects() if names is None or s.name in names or s.detector.name in names]
    table: list[list[str]] = []
    z_rates: dict[tuple[str, int], tuple[NumpyRates, NumpyRates, Rate]] = {}
    touched_rates: dict[int, Rate] = {}
    hst = time_river_hst()
    for sensors in counts:
        work = Workload.make(sensors, BATCH, seed=sensors)
        print(f"-- {sensors:,} sensors: building {sensors:,} river GaussianScorers", flush=True)
        models = river_gaussians(range(sensors))  # one per sensor, as a deployment would hold them
        before = time_river_gaussian(models, work)
        touched = time_river_gaussian(river_gaussians(sorted(set(work.rows.tolist()))), work)
        print(
            f"   river GaussianScorer {fmt_rate(before.wall)}"
            f" (only the batch's {len(set(work.rows.tolist())):,} sensors built: {fmt_rate(touched.wall)})",
            flush=True,
        )
        measured = []
        for s in subs:
            pure = time_numpy(s, work, in_place=False, repeats=repeats)
            owned = time_numpy(s, work, in_place=True, repeats=repeats)
            loop = time_python(s, work)
            measured.append((s, pure, owned, loop))
            name = s.name
            print(
                f"   {name}: step {fmt_rate(pure.warm.wall)}, in place {fmt_rate(owned.warm.wall)}",
                flush=True,
            )
        river = before.better(time_river_gaussian(models, work))  # the better of before and after
        del models
        touched_rates[sensors] = touched
        print(f"   river GaussianScorer again, best of both: {fmt_rate(river.wall)}", flush=True)
        g = river.wall
        for s, pure, owned, loop in measured:
            if s.name in Z_SCORE_TYPE:
                z_rates[(s.name, sensors)] = (pure, owned, river)
            table.append(
                [
                    s.name,
                    f"{sensors:,}",
                    fmt_rate(pure.warm.wall),
                    fmt_rate(owned.warm.wall),
                    fmt_rate(owned.cold.wall),
                    fmt_rate(loop.wall),
                    fmt_rate(g),
                    fmt_rate(hst),
                    f"{pure.warm.wall / g:.1f}x",
                    f"{owned.warm.wall / g:.1f}x",
                    f"{owned.cold.wall / g:.1f}x",
                    f"{pure.warm.wall / hst:.0f}x",
                    f"{pure.warm.wall / loop.wall:.1f}x",
                    f"{state_bytes_per_sensor(s.detector):.0f}",
                ]
            )
    return Results(table, z_rates, river_bytes_per_instance(), hst, touched_rates)


HEADER = [
    "detector",
    "sensors",
    "numpy step",
    "numpy in place",
    "in place, cold",
    "python loop",
    "river Gaussian",
    "river HST",
    "step / Gaussian",
    "in place / Gaussian",
    "cold in place / Gaussian",
    "step / HST",
    "step / python",
    "state B/sensor",
]

Z_HEADER = [
    "detector",
    "sensors",
    "river Gaussian",
    "in place",
    "/ Gaussian",
    "in place, cold",
    "/ Gaussian",
    "step",
    "/ Gaussian",
    "step, cold",
    "/ Gaussian",
]

TARGET = 10.0
ZRates = dict[tuple[str, int], tuple[NumpyRates, NumpyRates, Rate]]


def _variants(pure: NumpyRates, owned: NumpyRates) -> list[tuple[str, Rate]]:
    return [
        ("in place", owned.warm),
        ("in place cold", owned.cold),
        ("step", pure.warm),
        ("step cold", pure.cold),
    ]


def z_table(z_rates: ZRates) -> list[str]:
    """The z-score-type detectors against river GaussianScorer; each cell wall clock / CPU time."""
    lines = ["| " + " | ".join(Z_HEADER) + " |", "|" + "---|" * len(Z_HEADER)]
    for (name, sensors), (pure, owned, g) in z_rates.items():
        cells = [name, f"{sensors:,}", f"{fmt_rate(g.wall)} / {fmt_rate(g.cpu)}"]
        for _, r in _variants(pure, owned):
            cells += [
                f"{fmt_rate(r.wall)} / {fmt_rate(r.cpu)}",
                f"{r.wall / g.wall:.1f}x / {r.cpu / g.cpu:.1f}x",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdict(z_rates: ZRates) -> list[str]:
    """Which variants of the z-score-type detectors reach the target (wall clock and CPU time both)."""
    out = []
    for name in Z_SCORE_TYPE:
        parts = []
        for (n, sensors), (pure, owned, g) in z_rates.items():
            if n != name:
                continue
            ok = [
                label
                for label, r in _variants(pure, owned)
                if r.wall >= TARGET * g.wall and r.cpu >= TARGET * g.cpu
            ]
            parts.append(f"{sensors:,} sensors: " + (", ".join(ok) if ok else "none"))
        if parts:
            out.append(f"`{name}` " + "; ".join(parts))
    return out


def markdown(res: Results, info: dict[str, str], command: str) -> str:
    lines = [SECTION, ""]
    lines.append(
        f"Produced by `{command}`. Readings per second on one core, batch of 10,000 readings, default"
        " parameters, steady state (warmed on the same sensors first), best of 9-15 timed batches per cell"
        " (the machine is shared: the best batch is the least disturbed one), wall clock and CPU time of"
        " the timing thread separately. numpy is timed warm (GC off, batches back to back, as `timeit`"
        " does) and cold (`gc.collect()` right before each batch, which empties the caches as a worker's"
        " decoding and sink writes between batches would); river and the Python loop run with GC on, as"
        " in production. The main table is wall clock; the second table gives the z-score-type detectors"
        " in CPU time too."
    )
    lines.append("")
    lines.append("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".")
    lines.append("")
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "---|" * len(HEADER))
    lines.extend("| " + " | ".join(r) + " |" for r in res.table)
    lines += ["", "z-score-type detectors against river `anomaly.GaussianScorer` (target: at least 10x):", ""]
    lines += z_table(res.z_rates)
    rb = res.river_bytes
    lines += [
        "",
        f"- At least {TARGET:.0f}x river GaussianScorer, on the wall clock and in CPU time (variants that"
        " reach it): " + "; ".join(verdict(res.z_rates)) + ".",
        "- `numpy step` is the pure `Detector.step` (copies every learned state array per batch, so its cost"
        " grows with the number of sensors); `numpy in place` is `step_in_place` (same scores and state,"
        " no copy; what a worker that owns the state calls). `python loop` is the same statistic one"
        " reading at a time (`detectors/generic/reference.py`). `in place, cold`: each batch right after"
        " a `gc.collect()` (about 20 ms of walking 90,000 objects): the detector's state and temporaries"
        " start in L3 or memory, which costs the numpy detectors 30-50 % at 10,000 readings per batch.",
        f"- river {info['river']}: `anomaly.GaussianScorer()` and `anomaly.HalfSpaceTrees()`, defaults, one"
        " instance per sensor (all of them built and past the 100-reading grace period, as a deployment"
        " would hold them), `score_one` then `learn_one` per reading. GaussianScorer is timed before and"
        " after the detectors of each sensor count and the better run is kept. With instances built only"
        " for the sensors of the timed batch (as earlier versions of this section did, at most 10,000,"
        " all in cache) river runs at " + touched_line(res) + "; ratios against that setup would be lower"
        " at 100,000 sensors and more. Measured memory:"
        f" {rb['GaussianScorer']:,.0f} B per GaussianScorer, {rb['HalfSpaceTrees']:,.0f} B per"
        " HalfSpaceTrees (so 1,000,000 sensors would need"
        f" {rb['GaussianScorer'] * 1e6 / 2**30:.1f} GiB and {rb['HalfSpaceTrees'] * 1e6 / 2**40:.1f} TiB)."
        " HalfSpaceTrees was timed on 200 sensors and 2,000 readings (values in [0, 1], its default"
        " limits); that per-reading cost is used for every sensor count (extrapolated, not measured).",
        "- `ewma_z` and `cusum` are the like-for-like pair with GaussianScorer (a running mean and"
        " variance per sensor). `robust_z` keeps each sensor's last 32 values and takes their median and"
        " MAD when the ring has received a multiple of `hop` values (default 8), scoring the readings in"
        " between against them (docs/adr/0006-robust-z-baseline-hops.md); `robust_z (hop 1)` takes them"
        " for every reading, the exactly sliding window. A baseline costs about 15 ns to gather the ring,"
        " 40 ns to sort it and 60 ns for the MAD (a half-cleaner on the sorted ring), and every reading"
        " 50-60 ns of ring bookkeeping, so hop 1 stays near 170-210 ns per reading: 10x river leaves "
        + budget_line(res)
        + ". Before timing, every sensor gets 0 to 7 extra readings, so sensors are not in lock-step and"
        " every timed batch refreshes about one baseline in `hop` (`Workload.stagger`). At 100,000"
        " sensors and more `step` spends much of its time allocating and copying the state (24 B to"
        " 280 B per sensor, per batch); `step_in_place` does not.",
        "- Earlier versions of this section timed numpy cold only (`gc.collect()` before each batch):"
        " compare them with the cold columns.",
        "- `OPENBLAS_CORETYPE` as found on the machine (see the machine line); these detectors use"
        " element-wise numpy and sorting only, no BLAS, so it does not affect them.",
    ]
    return "\n".join(lines) + "\n"


def budget_line(res: Results) -> str:
    """Nanoseconds per reading that 10x river's GaussianScorer leaves, per sensor count."""
    rates = {n: g.wall for (_, n), (_, _, g) in res.z_rates.items()}
    return ", ".join(f"{1e9 / (TARGET * r):.0f} ns at {n:,} sensors" for n, r in rates.items())


def touched_line(res: Results) -> str:
    return ", ".join(f"{fmt_rate(r.wall)} at {n:,} sensors" for n, r in res.river_touched.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 and 100,000 sensors only, fewer repeats")
    ap.add_argument("--detectors", help="comma-separated detector names (default: all)")
    ap.add_argument("--sensors", help="comma-separated sensor counts (default: 1,000 / 100,000 / 1,000,000)")
    ap.add_argument("--write", action="store_true", help=f"write the results into {RESULTS}")
    args = ap.parse_args()
    counts = SENSOR_COUNTS[:2] if args.quick else SENSOR_COUNTS
    if args.sensors:
        counts = tuple(int(c) for c in args.sensors.split(","))
    names = tuple(args.detectors.split(",")) if args.detectors else None
    if args.write and (args.detectors or args.sensors):
        ap.error("--write needs every detector and the default sensor counts")
    res = run(counts, 3 if args.quick else 9, names)
    command = "python benchmarks/detectors/bench.py" + "".join(
        f" --{k} {v}" for k, v in (("detectors", args.detectors), ("sensors", args.sensors)) if v
    )
    command += (" --quick" if args.quick else "") + (" --write" if args.write else "")
    text = markdown(res, machine(), command)
    print()
    print(text)
    if args.write:
        write_section(SECTION, text)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
