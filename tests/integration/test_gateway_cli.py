"""``riskstream gateway --config FILE`` as a process: forwards readings, prints stats, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from paho.mqtt.enums import CallbackAPIVersion

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Family

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000


def test_gateway_command_runs_and_stops_cleanly_on_sigterm(stack: Any, tmp_path: Path) -> None:
    prefix = f"riskstream/{stack.unique_name('it_cli')}"
    readings_topic = stack.unique_name("t_cli_readings")
    dead_topic = stack.unique_name("t_cli_dead")
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    for f in admin.create_topics([NewTopic(readings_topic, 1), NewTopic(dead_topic, 1)]).values():
        f.result(15)
    registry_path = tmp_path / "registry.csv"
    Registry([Sensor("w-1", Family.RAINFALL, "water_depth", "s", "a", 31.0, 117.0, "gw-cli", "cm", {})]).save(
        registry_path
    )
    config = tmp_path / "riskstream.toml"
    config.write_text(
        f"""
registry = "{registry_path}"
metrics_port = 0

[mqtt]
host = "{stack.mqtt_host}"
port = {stack.mqtt_port}
username = "{stack.mqtt_username}"
password = "{stack.mqtt_password}"
topic_prefix = "{prefix}"
client_id = "{stack.unique_name("it_cli_gateway")}"

[kafka]
bootstrap_servers = "{stack.kafka_bootstrap}"

[kafka.topics]
readings = "{readings_topic}"
deadletter = "{dead_topic}"
"""
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "riskstream.cli",
            "gateway",
            "--config",
            str(config),
            "--stats-every-s",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pub = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=stack.unique_name("it_pub")
        )
        pub.username_pw_set(stack.mqtt_username, stack.mqtt_password)
        pub.connect(stack.mqtt_host, stack.mqtt_port)
        pub.loop_start()
        # The gateway's session may not exist yet, so publish until its stats show it forwarded some.
        consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": stack.unique_name("g")})
        consumer.assign([TopicPartition(readings_topic, 0, OFFSET_BEGINNING)])
        got: list[Any] = []
        deadline = time.monotonic() + 60
        i = 0
        while not got and time.monotonic() < deadline:
            payload = {
                "v": 1,
                "gateway_id": "gw-cli",
                "readings": [{"sensor_id": "w-1", "ts_ms": TS + i, "value": 3.0}],
            }
            pub.publish(f"{prefix}/gw-cli/readings", json.dumps(payload), qos=1).wait_for_publish(10)
            i += 1
            got += [m for m in consumer.consume(100, 0.5) if m.error() is None]
        consumer.close()
        pub.disconnect()
        pub.loop_stop()
        assert got, "no reading reached Kafka through the gateway command"
        assert json.loads(got[0].value())["sensor_id"] == "w-1"
        time.sleep(1.0)  # at least one stats line
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "gateway: messages=" in out
    assert "gateway stopped:" in out
    assert stack.mqtt_password not in out  # SecretStr: never logged
