"""`robust_z` with sensors in lock-step against staggered sensors: mean, best and worst batch.

    python benchmarks/detectors/lockstep.py

The detector benchmark staggers the sensors before timing and keeps the best batch. Sensors in
lock-step (all at the same point of their hop) do every refresh in the same batch: one batch in `hop`
is slow and the others fast. This times 32 consecutive batches both ways; the mean is what a worker
sustains, and it should match the staggered best if the benchmark's timing does not flatter the hop.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.detectors.bench import BATCH, SENSOR_COUNTS, Workload, fmt_rate
from detectors.generic import RobustZ, RobustZParams

BATCHES = 32


def batch_seconds(sensors: int, staggered: bool) -> np.ndarray:
    det = RobustZ(RobustZParams())
    work = Workload.make(sensors, BATCH, seed=sensors)
    state = det.init_state(sensors)
    if staggered:
        det.step_in_place(state, work.stagger())
    warm = work.replays_for(det.params.window)
    for r in range(warm):
        det.step_in_place(state, work.batch(r))
    batches = [work.batch(warm + i) for i in range(BATCHES)]
    seconds = []
    gc.collect()
    gc.disable()
    try:
        for b in batches:
            start = time.perf_counter()
            det.step_in_place(state, b)
            seconds.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return np.array(seconds)


def main() -> int:
    print(f"robust_z (defaults), in place, {BATCHES} consecutive batches of {BATCH:,} readings")
    print("| sensors | sensors are | mean | best | worst |")
    print("|---|---|---|---|---|")
    for sensors in SENSOR_COUNTS:
        for staggered in (False, True):
            s = batch_seconds(sensors, staggered)
            rates = [BATCH / s.mean(), BATCH / s.min(), BATCH / s.max()]
            label = "staggered" if staggered else "in lock-step"
            print(f"| {sensors:,} | {label} | " + " | ".join(fmt_rate(r) for r in rates) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
