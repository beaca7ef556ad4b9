"""The faust-streaming baseline of the pipeline benchmark, run as a child process by ``bench.py``.

One faust app with one agent on the readings topic: ``stream.take(take, within=…)`` batches of raw
values, and per event the work of :class:`benchmarks.pipeline.per_event.PerEventChecker` (JSON decode,
per-sensor threshold, per-sensor state in a dict). No InfluxDB, no tables (so no changelog topic and no
recovery "to the end", which the local broker's wrong high watermark would break; design.md §6).

It stops once ``--readings`` records were processed or ``--time-limit`` seconds passed, prints one JSON
line (counts and times) on stdout and leaves with ``os._exit`` (a clean faust shutdown waits on the
broker's group leave for no benefit here; the session times out after ``--session-timeout`` s).

    python -m benchmarks.pipeline.faust_baseline --bootstrap HOST:PORT --topic T --readings N \
        --sensors 10000 --seed 1 [--partitions 4] [--time-limit 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import faust

from benchmarks.pipeline.per_event import PerEventChecker, sensor_limits
from simulators.registry_gen import make_registry


def _emit(result: dict[str, Any]) -> None:
    sys.__stdout__.write(json.dumps(result) + "\n")
    sys.__stdout__.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--readings", type=int, required=True)
    ap.add_argument("--sensors", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=150.0)
    ap.add_argument("--take", type=int, default=5000)
    ap.add_argument("--within", type=float, default=0.2)
    ap.add_argument("--session-timeout", type=float, default=6.0)
    args = ap.parse_args()

    checker = PerEventChecker(sensor_limits(make_registry(args.sensors, seed=args.seed)))
    datadir = tempfile.mkdtemp(prefix="riskstream-bench-faust-")  # not the working directory
    app = faust.App(
        f"riskstream-bench-faust-{uuid.uuid4().hex[:12]}",
        broker=f"kafka://{args.bootstrap}",
        datadir=datadir,
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=args.session_timeout,
        broker_heartbeat_interval=1.0,
        topic_partitions=args.partitions,
        topic_replication_factor=1,
    )
    topic = app.topic(
        args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    started = time.perf_counter()
    cpu_started = time.process_time()
    st: dict[str, Any] = {"n": 0, "batches": 0, "first": None, "last": None, "cpu_first": None}

    def finish(reason: str) -> None:
        now = time.perf_counter()
        first, last = st["first"], st["last"]
        _emit(
            {
                "readings": st["n"],
                "batches": st["batches"],
                "join_s": (first - started) if first is not None else None,
                "window_s": (last - first) if first is not None else None,
                "cpu_s": time.process_time() - (st["cpu_first"] or cpu_started),
                "total_s": now - started,
                "crossings": checker.crossings,
                "rejected": checker.rejected,
                "sensors_seen": len(checker.state),
                "stopped_by": reason,
                "faust": faust.__version__,
            }
        )
        shutil.rmtree(datadir, ignore_errors=True)  # os._exit skips every cleanup handler
        os._exit(0)

    @app.agent(topic)
    async def detect(stream: Any) -> None:
        async for values in stream.take(args.take, within=args.within):
            if st["first"] is None:
                st["first"] = time.perf_counter()
                st["cpu_first"] = time.process_time()
            for raw in values:
                checker.check(raw)
            st["n"] += len(values)
            st["batches"] += 1
            st["last"] = time.perf_counter()
            if st["n"] >= args.readings:
                finish("all readings")

    @app.task
    async def deadline() -> None:
        await asyncio.sleep(args.time_limit)
        finish("time limit")

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
