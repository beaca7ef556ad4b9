"""Where the worker's CPU goes: its stages timed one by one, offline, on the records the benchmark produced.

The same pieces ``DetectWorker.process`` calls, in the same order, on the same records cut into batches
of 10,000 (in produced order): ``streams.records.RecordDecoder.decode``, ``Engine.process`` (default
rules, one engine state carried from batch to batch as in the worker), InfluxDB line formatting
(``sinks.line_protocol.reading_lines`` per channel layout, ``alert_line``), and, once, a state
checkpoint's CPU (``Engine.snapshot`` plus the ``zlib.compress(…, 1)`` that ``StateStore.save`` does).
CPU time (``time.process_time``), so other jobs on the shared machine do not count.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np

from detectors.engine import Engine
from riskstream.registry import Registry
from sinks.line_protocol import SensorTags, alert_line, reading_lines
from streams.records import RecordDecoder


@dataclass
class Stages:
    sensors: int
    readings: int
    cpu_s: dict[str, float]
    snapshot_mb: float
    packed_mb: float
    checkpoint_cpu_s: float

    def per_reading_us(self, name: str) -> float:
        return self.cpu_s[name] / self.readings * 1e6


def _layouts(registry: Registry) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    ids: dict[tuple[str, ...], int] = {}
    of_row = np.array([ids.setdefault(s.spec.channels, len(ids)) for s in registry], dtype=np.int16)
    return of_row, list(ids)


def measure(registry: Registry, values: list[bytes], batch: int = 10_000) -> Stages:
    decoder = RecordDecoder(registry)
    engine = Engine(registry)
    state = engine.init_state()
    tags = SensorTags(registry)
    layout_of, layouts = _layouts(registry)
    cpu = {"decode": 0.0, "engine": 0.0, "lines": 0.0}
    n = 0
    for i in range(0, len(values), batch):
        c0 = time.process_time()
        cols = decoder.decode(values[i : i + batch])
        c1 = time.process_time()
        alerts, state = engine.process(state, cols.rows, cols.ts_ms, cols.values)
        c2 = time.process_time()
        ids = layout_of[cols.rows]
        lines: list[str] = []
        for k in np.unique(ids):
            mask = ids == k
            channels = layouts[k]
            vals = cols.values[mask, : len(channels)] if channels else cols.values[mask, 0]
            lines += reading_lines(tags, cols.rows[mask], cols.ts_ms[mask], vals, channels)
        lines += [alert_line(a, a.level_num) for a in alerts]
        c3 = time.process_time()
        cpu["decode"] += c1 - c0
        cpu["engine"] += c2 - c1
        cpu["lines"] += c3 - c2
        n += len(cols)
    c0 = time.process_time()
    blob = engine.snapshot(state)
    packed = zlib.compress(blob, 1)
    checkpoint = time.process_time() - c0
    return Stages(len(registry), n, cpu, len(blob) / 1e6, len(packed) / 1e6, checkpoint)
