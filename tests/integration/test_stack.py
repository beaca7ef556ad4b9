"""The real local stack: services answer, MQTT auth and ACL hold, topics and database exist, ``up`` is
idempotent, and a port held by a foreign process is reported, not stolen."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource
from paho.mqtt.enums import CallbackAPIVersion

from riskstream.settings import load_settings
from riskstream.stack import StackError, StackManager
from riskstream.stack.health import influx_query, mqtt_login
from riskstream.stack.services import topic_specs
from riskstream.stack.testing import StackInfo

pytestmark = pytest.mark.integration


def _cli(stack: StackInfo, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RISKSTREAM_STACK__DATA_DIR": str(stack.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "riskstream.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_json_reports_every_service_up(stack: StackInfo) -> None:
    proc = _cli(stack, "stack", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["mqtt"]["url"] == f"mqtt://{stack.mqtt_host}:{stack.mqtt_port}"
    assert status["kafka"]["url"] == stack.kafka_bootstrap
    assert status["influxdb"]["url"] == stack.influx_url
    assert status["victoria-metrics"]["url"] == stack.vm_url
    assert status["prometheus"]["url"] == stack.prometheus_url
    for name, entry in status.items():
        assert entry["up"] is True, f"{name}: {entry}"
        # managed: started from this data folder (false only if the fixture adopted a foreign stack)
        assert isinstance(entry["pid"], int) == entry["managed"], f"{name}: {entry}"


def test_mqtt_refuses_anonymous_and_wrong_password(stack: StackInfo) -> None:
    anonymous = mqtt_login(stack.mqtt_host, stack.mqtt_port, None, None)
    assert not anonymous.ok, anonymous.reason
    wrong = mqtt_login(stack.mqtt_host, stack.mqtt_port, stack.mqtt_username, stack.mqtt_password + "x")
    assert not wrong.ok, wrong.reason
    stranger = mqtt_login(stack.mqtt_host, stack.mqtt_port, "intruder", stack.mqtt_password)
    assert not stranger.ok, stranger.reason
    right = mqtt_login(stack.mqtt_host, stack.mqtt_port, stack.mqtt_username, stack.mqtt_password)
    assert right.ok, right.reason


class _Recorder:
    """A connected MQTT v5 client that records messages and PUBACK reason codes."""

    def __init__(self, stack: StackInfo, client_id: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.connected = threading.Event()
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        c.username_pw_set(stack.mqtt_username, stack.mqtt_password)
        c.on_connect = lambda *a: self.connected.set()
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        c.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc.value)
        c.on_subscribe = lambda _c, _u, mid, rcs, _p: self.subacks.__setitem__(mid, [r.value for r in rcs])
        c.connect(stack.mqtt_host, stack.mqtt_port)
        c.loop_start()
        assert self.connected.wait(5), "MQTT connect timed out"
        self.client = c

    def subscribe(self, topic: str) -> list[int]:
        _, mid = self.client.subscribe(topic, qos=1)
        _wait(lambda: mid in self.subacks)
        return self.subacks[mid]

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        _wait(lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(predicate: object, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_acl_allows_riskstream_tree_and_refuses_everything_else(stack: StackInfo) -> None:
    rec = _Recorder(stack, stack.unique_name("t_acl"))
    try:
        inside = f"riskstream/{stack.unique_name('t')}/readings"
        assert rec.subscribe(inside) == [1]
        assert rec.publish(inside, b"ok") == 0
        assert _wait(lambda: (inside, b"ok") in rec.messages)

        outside = f"elsewhere/{stack.unique_name('t')}"
        assert rec.publish(outside, b"no") == 135, "PUBACK must say Not authorized (0x87)"
        # Reading outside the tree is refused too: the broker's retained $SYS topics never arrive.
        rec.subscribe("$SYS/broker/version")
        rec.subscribe(f"{outside}/#")
        time.sleep(1.0)
        assert [t for t, _ in rec.messages if not t.startswith("riskstream/")] == []
    finally:
        rec.close()


def test_kafka_topics_exist_with_partitions_and_compaction(stack: StackInfo) -> None:
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    topics = admin.list_topics(timeout=10).topics
    for name, spec in topic_specs(stack.settings).items():
        assert name in topics, f"missing topic {name}"
        assert len(topics[name].partitions) == spec.partitions, name
    state = stack.settings.kafka.topics.state
    configs = admin.describe_configs([ConfigResource("topic", state)])
    entries = next(iter(configs.values())).result(10)
    assert entries["cleanup.policy"].value == "compact"


def test_kafka_round_trip_on_a_fresh_topic(stack: StackInfo) -> None:
    topic = stack.new_topic("t_roundtrip", partitions=2)
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    for i in range(10):
        producer.produce(topic, key=f"s{i % 3}", value=f"{i}".encode(), partition=0)
    assert producer.flush(10) == 0
    consumer = Consumer(
        stack.kafka_config(**{"group.id": stack.unique_name("g"), "enable.auto.commit": False})
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + 15
        while len(got) < 10 and time.monotonic() < deadline:
            got += [m.value() for m in consumer.consume(10, timeout=0.5) if not m.error()]
    finally:
        consumer.close()
    assert got == [f"{i}".encode() for i in range(10)]


def test_influx_database_exists_and_accepts_writes(stack: StackInfo) -> None:
    body = influx_query(stack.influx_url, "SHOW DATABASES")
    names = [row[0] for row in body["results"][0]["series"][0]["values"]]  # type: ignore[index]
    assert stack.settings.influx.database in names

    db = stack.new_database("t_db")
    req = urllib.request.Request(
        f"{stack.influx_url}/write?db={db}&precision=ms",
        data=b"reading,sensor_id=s1 value=12.5 1700000000000",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    rows = influx_query(stack.influx_url, f'SELECT value FROM "{db}".."reading"')
    assert rows["results"][0]["series"][0]["values"] == [["2023-11-14T22:13:20Z", 12.5]]  # type: ignore[index]


def test_extras_answer(stack: StackInfo) -> None:
    with urllib.request.urlopen(f"{stack.vm_url}/health", timeout=5) as resp:
        assert resp.read().strip() == b"OK"
    with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/status/config", timeout=5) as resp:
        loaded = json.loads(resp.read())["data"]["yaml"]
    assert f"127.0.0.1:{stack.settings.metrics_port}" in loaded
    assert str(stack.prometheus_targets_dir) in loaded


def test_up_twice_reuses_the_running_services(stack: StackInfo) -> None:
    manager = StackManager(stack.settings)
    before = {name: s.pid for name, s in manager.status().items()}
    t0 = time.monotonic()
    again = manager.up(with_extras=True, adopt_foreign=True)
    assert time.monotonic() - t0 < 20
    assert [s.started for s in again] == [False] * 5
    assert {s.name: s.pid for s in again} == before


def test_password_is_in_no_log_or_generated_file(stack: StackInfo) -> None:
    for path in [*(stack.data_dir / "logs").glob("*.log"), *(stack.data_dir / "mqtt").glob("*")]:
        if path.is_file():
            assert stack.mqtt_password not in path.read_text(errors="replace"), path


def test_foreign_process_on_a_port_is_reported_not_replaced(stack: StackInfo, tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        settings = load_settings(mqtt={"port": port}, stack={"data_dir": tmp_path})
        with pytest.raises(StackError, match=rf"mqtt port {port}"):
            StackManager(settings).up()
    assert not (tmp_path / "run" / "mqtt.pid").exists()
