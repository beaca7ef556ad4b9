"""Throughput of the anomaly detector (detectors/anomaly) on one core.

    python benchmarks/nab/throughput.py [--sensors 100000] [--batch 10000] [--batches 40]

Batches of ``--batch`` readings over ``--sensors`` sensors (each batch draws distinct sensors when it
can, so with 10,000 readings over 100,000 sensors every sensor has at most one reading per batch and
the work per batch is a gather/scatter of 10,000 state rows, independent of the number of sensors).
The state is warmed first (every sensor past its warm-up). Reports readings/s for ``step_in_place``
(what a worker that owns its state calls) and for the pure ``step`` (which copies the whole state per
batch, so its cost grows with the number of sensors): median and best of the timed batches.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detectors.anomaly import AnomalyScore
from detectors.anomaly.ensemble import state_bytes
from detectors.base import Batch

T0 = 1_700_000_000_000


def make_batches(rng: np.random.Generator, sensors: int, batch: int, count: int, t_start: int) -> list[Batch]:
    out = []
    for i in range(count):
        if batch <= sensors:
            rows = rng.choice(sensors, batch, replace=False)
        else:
            rows = rng.integers(0, sensors, batch)
        ts = t_start + i * 60_000 + rng.integers(0, 60_000, batch)
        values = 20.0 + rng.normal(size=batch) + (rows % 7)
        out.append(Batch.of(rows, ts, values))
    return out


def warm(det: AnomalyScore, state: dict[str, np.ndarray], sensors: int, readings_each: int) -> None:
    """Every sensor gets ``readings_each`` readings, one per sensor per batch of ``sensors`` readings."""
    rng = np.random.default_rng(1)
    rows = np.arange(sensors)
    for k in range(readings_each):
        ts = np.full(sensors, T0 - (readings_each - k) * 300_000, dtype=np.int64)
        det.step_in_place(state, Batch.of(rows, ts, 20.0 + rng.normal(size=sensors) + rows % 7))


def rate(
    det: AnomalyScore, state: dict[str, np.ndarray], batches: list[Batch], in_place: bool
) -> list[float]:
    rates = []
    for b in batches:
        t = time.perf_counter()
        if in_place:
            det.step_in_place(state, b)
        else:
            _, state = det.step(state, b)
        rates.append(len(b) / (time.perf_counter() - t))
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=40, help="timed batches per mode")
    ap.add_argument("--warm-readings", type=int, default=40, help="readings per sensor before timing")
    args = ap.parse_args(argv)

    det = AnomalyScore()
    state = det.init_state(args.sensors)
    warm(det, state, args.sensors, args.warm_readings)
    rng = np.random.default_rng(0)
    batches = make_batches(rng, args.sensors, args.batch, 2 * args.batches + 4, T0)
    rate(det, state, batches[:4], in_place=True)  # settle caches
    in_place = rate(det, state, batches[4 : 4 + args.batches], in_place=True)
    pure = rate(det, state, batches[4 + args.batches :], in_place=False)

    print(f"anomaly detector: {args.sensors:,} sensors, batches of {args.batch:,} readings")
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    print(f"state: {state_bytes(1)} B per sensor, {state_bytes(args.sensors) / 2**20:.1f} MiB in all")
    for name, r in (("step_in_place", in_place), ("step (pure)", pure)):
        print(
            f"  {name:<14} median {statistics.median(r):>12,.0f} readings/s"
            f"   best {max(r):>12,.0f} readings/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
