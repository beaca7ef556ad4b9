"""Fault test: kill -9 the detector worker mid-stream, restart it, lose nothing and change nothing.

Readings go straight to Kafka; `riskstream detect` runs as a real process against the real stack.
After a SIGKILL the restarted worker resumes from the committed offsets with the detector state of
the checkpoint those offsets point at. Then every reading is in InfluxDB exactly once per sensor, and
the set of alert ids on the alert topic equals an uninterrupted offline run of the same engine.
Without the state checkpoint the restarted rules would start cold mid-incident and the alert set would
differ, so this test fails if restore is broken.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from detectors.engine import Engine
from riskstream.schemas import Alert
from riskstream.stack.testing import StackInfo
from simulators.scenario import Scenario
from sinks.influx_query import query_v1

pytestmark = pytest.mark.integration


def _write_config(path: Path, stack: StackInfo, registry_csv: Path, names: dict[str, str]) -> None:
    s = stack.settings
    path.write_text(
        f"""registry = "{registry_csv}"
metrics_port = 0
[kafka]
bootstrap_servers = "{stack.kafka_bootstrap}"
group_id = "{names["group"]}"
session_timeout_ms = {s.kafka.session_timeout_ms}
heartbeat_interval_ms = {s.kafka.heartbeat_interval_ms}
[kafka.topics]
readings = "{names["readings"]}"
alerts = "{names["alerts"]}"
deadletter = "{names["deadletter"]}"
state = "{names["state"]}"
[influx]
url = "{stack.influx_url}"
database = "{names["db"]}"
[detect]
max_batch = 2000
checkpoint_interval_s = 1.0
"""
    )


def _influx_total(stack: StackInfo, db: str) -> int:
    rows = query_v1(stack.influx_url, db, "SELECT count(*) FROM reading")
    if not rows:
        return 0
    return max(v for k, v in rows[0].items() if k.startswith("count_") and v is not None)


def _checkpointed(stack: StackInfo, names: dict[str, str]) -> bool:
    """True once the worker's group committed offsets that point at a state snapshot."""
    consumer = Consumer(stack.kafka_config(**{"group.id": names["group"]}))
    try:
        committed = consumer.committed([TopicPartition(names["state"], p) for p in range(4)], timeout=10)
    finally:
        consumer.close()
    return any(tp.offset >= 0 for tp in committed)


def _start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "riskstream.cli", "detect", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_worker_kill9_and_restart_loses_nothing(stack: StackInfo, tmp_path: Path) -> None:
    scenario = Scenario.generate(400, seed=5)
    registry_csv = tmp_path / "registry.csv"
    scenario.registry.save(registry_csv)
    names = {
        "readings": stack.new_topic("fault-readings", partitions=4),
        "alerts": stack.new_topic("fault-alerts"),
        "deadletter": stack.new_topic("fault-dl"),
        "state": stack.new_topic("fault-state", partitions=4, config={"cleanup.policy": "compact"}),
        "db": stack.new_database("fault"),
        "group": stack.unique_name("fault-group"),
    }
    config = tmp_path / "riskstream.toml"
    _write_config(config, stack, registry_csv, names)

    readings = list(scenario.readings())
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "linger.ms": 20, "acks": "all"})
    for r in readings:
        producer.produce(names["readings"], key=r["sensor_id"].encode(), value=json.dumps(r).encode())
        producer.poll(0)
    assert producer.flush(60) == 0
    total = len(readings)

    log = tmp_path / "worker.log"
    worker = _start_worker(config, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        _influx_total(stack, names["db"]) >= total * 0.4 and _checkpointed(stack, names)
    ):
        time.sleep(0.3)
    before_kill = _influx_total(stack, names["db"])
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    assert 0 < before_kill < total, (
        f"kill came too late or too early ({before_kill}/{total}):\n{log.read_text()}"
    )

    worker = _start_worker(config, log)
    try:
        deadline = time.monotonic() + 180
        while _influx_total(stack, names["db"]) < total and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # let the last alerts flush
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    output = log.read_text()
    assert "restored detector state" in output, output

    rows = query_v1(stack.influx_url, names["db"], "SELECT count(*) FROM reading GROUP BY sensor_id")
    stored = {r["sensor_id"]: max(v for k, v in r.items() if k.startswith("count_") and v) for r in rows}
    assert stored == dict(Counter(r["sensor_id"] for r in readings))

    # uninterrupted reference: the same engine over the same readings, offline
    engine = Engine(scenario.registry)
    state = engine.init_state()
    want: set[str] = set()
    for frame in scenario.frames():
        alerts, state = engine.process(state, frame.rows, frame.ts_ms, frame.values)
        want |= {a.alert_id for a in alerts}
    assert want, "the scenario should raise alerts"

    consumer = Consumer(
        stack.kafka_config(**{"group.id": stack.unique_name("fault-reader"), "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([names["alerts"]])
    got: list[Alert] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len({a.alert_id for a in got}) < len(want):
        for m in consumer.consume(1000, 0.5):
            if m.error() is None:
                got.append(Alert.model_validate_json(m.value()))
    quiet_until = time.monotonic() + 2
    while time.monotonic() < quiet_until:
        got += [
            Alert.model_validate_json(m.value()) for m in consumer.consume(1000, 0.5) if m.error() is None
        ]
    consumer.close()
    got_ids = {a.alert_id for a in got}
    assert got_ids == want, (
        f"missing {len(want - got_ids)}, unexpected {len(got_ids - want)} alerts after kill -9 and restart"
    )
    print(
        f"\nfault: {total} readings, killed after {before_kill} were stored; after restart "
        f"{sum(stored.values())} stored, {len(got)} alert records ({len(got) - len(got_ids)} repeats by id), "
        f"{len(want)} distinct as expected"
    )
