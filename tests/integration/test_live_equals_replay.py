"""Property: the live pipeline on the real broker and `riskstream replay` give identical alert streams.

For generated scenarios (readings with labelled incidents) and operator actions (ack, shelve,
unshelve, maintenance on sensors and sites), the alerts the worker publishes on the Kafka alert topic
equal, id for id and in order per sensor, the alerts `riskstream replay` writes for the same files.
The idle-partition wall-clock fallback is outside this property (switched off here).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.commands.replay import replay_files
from riskstream.schemas import ActionKind, Alert, OperatorAction
from riskstream.settings import KafkaTopics
from riskstream.stack.testing import StackInfo
from simulators.scenario import Scenario
from streams.factory import build_worker

pytestmark = pytest.mark.integration

ACTION = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(list(ActionKind)),
        "at": st.floats(0.05, 0.95),  # position in the scenario's time range
        "target": st.sampled_from(["incident", "incident_site", "other"]),
        "hold_min": st.integers(1, 30),
    }
)


def _actions(scenario: Scenario, draws: list[dict], pick: int) -> list[OperatorAction]:
    incidents = scenario.expected()
    reg = scenario.registry
    out = []
    for i, d in enumerate(draws):
        inc = incidents[(pick + i) % len(incidents)]
        sensor = reg.get(inc.sensor_id)
        assert sensor is not None
        target = {"incident": inc.sensor_id, "incident_site": sensor.site, "other": reg.sensors[i].sensor_id}[
            d["target"]
        ]
        ts = scenario.start_ts_ms + int(d["at"] * (scenario.end_ts_ms - scenario.start_ts_ms)) + 1
        until = (
            ts + d["hold_min"] * 60_000 if d["kind"] in (ActionKind.SHELVE, ActionKind.MAINTENANCE) else None
        )
        out.append(OperatorAction(action=d["kind"], target=target, ts_ms=ts, until_ts_ms=until, by="op"))
    return sorted(out, key=lambda a: a.ts_ms)


def _wait(cond, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _run_live(stack: StackInfo, scenario: Scenario, actions: list[OperatorAction]) -> list[Alert]:
    s = stack.settings
    topics = KafkaTopics(
        readings=stack.new_topic("lr-readings"),  # one partition: readings arrive in ts order
        alerts=stack.new_topic("lr-alerts"),
        deadletter=stack.new_topic("lr-dl"),
        control=stack.new_topic("lr-control"),
        state=stack.new_topic("lr-state"),
    )
    group = stack.unique_name("lr")
    cfg = s.model_copy(
        update={
            "kafka": s.kafka.model_copy(update={"topics": topics, "group_id": group, "instance_id": group}),
            "influx": s.influx.model_copy(update={"database": stack.new_database("lr")}),
            "detect": s.detect.model_copy(update={"idle_after_s": 1e6}),
        }
    )
    worker = build_worker(cfg, scenario.registry)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "linger.ms": 5})
    readings = list(scenario.readings())
    sent = 0
    pending = list(actions)
    try:
        for r in readings:
            while pending and r["ts_ms"] > pending[0].ts_ms:
                # the action reaches the worker before any reading stamped after it, as it would live
                target = sent
                _wait(lambda target=target: worker.stats.readings >= target)
                producer.produce(
                    topics.control, key=pending[0].target.encode(), value=pending[0].model_dump_json()
                )
                producer.flush(10)
                _wait(lambda: worker.pending_actions >= 1)
                pending.pop(0)
            producer.produce(topics.readings, key=r["sensor_id"].encode(), value=json.dumps(r).encode())
            sent += 1
            producer.poll(0)
        producer.flush(30)
        _wait(lambda: worker.stats.readings >= sent, 120)
    finally:
        worker.stop()
        thread.join(30)
    n = sum(worker.stats.alerts_by_level.values())
    consumer = Consumer(
        stack.kafka_config(**{"group.id": stack.unique_name("lr-read"), "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topics.alerts])
    got: list[Alert] = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        got += [Alert.model_validate_json(m.value()) for m in consumer.consume(500, 0.5) if m.error() is None]
    consumer.close()
    return got


def _per_sensor(alerts: list[Alert]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for a in alerts:
        out[a.sensor_id].append(a.alert_id)
    return dict(out)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, 10_000), draws=st.lists(ACTION, min_size=1, max_size=4), pick=st.integers(0, 20))
def test_live_pipeline_equals_replay(
    stack: StackInfo, tmp_path_factory: pytest.TempPathFactory, seed: int, draws: list[dict], pick: int
) -> None:
    scenario = Scenario.generate(60, seed=seed, duration_s=1500)
    actions = _actions(scenario, draws, pick)
    live = _run_live(stack, scenario, actions)

    d = tmp_path_factory.mktemp("replay")
    files = scenario.write(d)
    actions_file = d / "actions.jsonl"
    actions_file.write_text("".join(a.model_dump_json() + "\n" for a in actions))
    out = d / "alerts.jsonl"
    replay_files(
        registry=Path(files.registry),
        input_path=Path(files.readings),
        output_path=out,
        actions_path=actions_file,
    )
    replayed = [Alert.model_validate_json(line) for line in out.read_text().splitlines() if line]

    assert replayed, "the scenario should raise alerts"
    assert _per_sensor(live) == _per_sensor(replayed)
    assert {a.alert_id for a in live} == {a.alert_id for a in replayed}
