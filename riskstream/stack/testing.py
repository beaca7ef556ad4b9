"""What integration tests get from the ``stack`` fixture (``tests/conftest.py``): addresses,
credentials and small helpers to create collision-free topics and databases.

Import it for type hints: ``from riskstream.stack.testing import StackInfo``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskstream.settings import RiskstreamSettings

from .health import influx_query
from .layout import StackLayout
from .services import PrometheusService, TopicSpec, ensure_topics

_NAME_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FILE_SD_GLOB = re.compile(r"""files:\s*\n\s*-\s*["']?([^"'\n]+)/\*\.json""")


def unique_name(prefix: str) -> str:
    """``prefix`` plus a random suffix: ``unique_name("t_alerts")`` -> ``"t_alerts_3f9a0c1b2d4e"``.

    The result is a valid Kafka topic name and InfluxDB database name (quote it in InfluxQL if the
    prefix holds ``.`` or ``-``). Use it for every topic, database, consumer group or client id a test
    creates, so parallel and repeated runs never see each other's data.
    """
    if not _NAME_PREFIX.match(prefix):
        raise ValueError(f"prefix must match {_NAME_PREFIX.pattern}, got {prefix!r}")
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class StackInfo:
    """The running local stack, as the ``stack`` fixture returns it."""

    settings: RiskstreamSettings  # points at this stack (ports, credentials, data_dir)
    mqtt_host: str
    mqtt_port: int
    mqtt_username: str
    mqtt_password: str = field(repr=False)
    kafka_bootstrap: str
    influx_url: str  # InfluxDB 1.6: /write, /query (InfluxQL), /ping
    vm_url: str  # VictoriaMetrics: InfluxDB line protocol on /api/v2/write, PromQL on /api/v1/query
    prometheus_url: str
    data_dir: Path
    prometheus_targets_dir: Path  # drop file-SD JSON here to have Prometheus scrape a test exporter

    @classmethod
    def from_settings(cls, settings: RiskstreamSettings) -> StackInfo:
        layout = StackLayout.from_settings(settings)
        host = layout.connect_host
        return cls(
            settings=settings,
            mqtt_host=host,
            mqtt_port=layout.mqtt_port,
            mqtt_username=settings.mqtt.username,
            mqtt_password=settings.mqtt.password.get_secret_value(),
            kafka_bootstrap=f"{host}:{layout.kafka_port}",
            influx_url=f"http://{host}:{layout.influx_port}",
            vm_url=f"http://{host}:{layout.vm_port}",
            prometheus_url=f"http://{host}:{layout.prometheus_port}",
            data_dir=layout.data_dir,
            prometheus_targets_dir=PrometheusService.targets_dir(layout),
        )

    def with_running_prometheus_targets(self) -> StackInfo:
        """Point ``prometheus_targets_dir`` at the folder the running Prometheus actually watches
        (another data folder's, when the fixture reused a stack started elsewhere)."""
        try:
            with urllib.request.urlopen(f"{self.prometheus_url}/api/v1/status/config", timeout=5) as resp:
                loaded = json.loads(resp.read())["data"]["yaml"]
        except (OSError, ValueError, KeyError):
            return self
        match = _FILE_SD_GLOB.search(loaded)
        if match is None:
            return self
        return dataclasses.replace(self, prometheus_targets_dir=Path(match.group(1)))

    @staticmethod
    def unique_name(prefix: str) -> str:
        """See :func:`unique_name`."""
        return unique_name(prefix)

    def kafka_config(self, **extra: Any) -> dict[str, Any]:
        """librdkafka settings for this broker, with the short group timeouts it needs (design.md §6)."""
        kafka = self.settings.kafka
        return {
            "bootstrap.servers": self.kafka_bootstrap,
            "session.timeout.ms": kafka.session_timeout_ms,
            "heartbeat.interval.ms": kafka.heartbeat_interval_ms,
            **extra,
        }

    def new_topic(self, prefix: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
        """Create a topic with a unique name and return the name."""
        name = unique_name(prefix)
        ensure_topics(self.kafka_bootstrap, {name: TopicSpec(partitions, tuple((config or {}).items()))})
        return name

    def new_database(self, prefix: str) -> str:
        """Create an InfluxDB database with a unique name and return the name."""
        name = unique_name(prefix)
        influx_query(self.influx_url, f'CREATE DATABASE "{name}"')
        return name
