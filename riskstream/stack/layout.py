"""Where the local stack keeps its files and which ports it uses, derived once from the settings.

Everything the stack writes (generated configs, data, logs, pid files) lives under one folder,
``settings.stack.data_dir``, so ``riskstream stack down --purge`` (or deleting the folder) resets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from riskstream.settings import RiskstreamSettings

from .errors import StackError

MQTT = "mqtt"
KAFKA = "kafka"
INFLUXDB = "influxdb"
VICTORIA_METRICS = "victoria-metrics"
PROMETHEUS = "prometheus"

CORE_SERVICES: tuple[str, ...] = (MQTT, KAFKA, INFLUXDB)
EXTRA_SERVICES: tuple[str, ...] = (VICTORIA_METRICS, PROMETHEUS)
ALL_SERVICES: tuple[str, ...] = CORE_SERVICES + EXTRA_SERVICES

_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def kafka_port_of(bootstrap_servers: str) -> int:
    """Port of the first ``host:port`` in a bootstrap list (the one the local broker listens on)."""
    first = bootstrap_servers.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise StackError(f"kafka.bootstrap_servers must start with host:port, got {bootstrap_servers!r}")
    return int(port)


def http_port_of(url: str) -> int:
    """Port of an http(s) URL, with the scheme's default when the URL names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StackError(f"influx.url must be an http URL such as http://127.0.0.1:18087, got {url!r}")
    return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class StackLayout:
    """Absolute paths and ports of one local stack. Build it with :meth:`from_settings`."""

    data_dir: Path
    bind_host: str
    mqtt_port: int
    kafka_port: int
    influx_port: int
    influx_rpc_port: int
    vm_port: int
    prometheus_port: int
    metrics_port: int

    @classmethod
    def from_settings(cls, settings: RiskstreamSettings) -> StackLayout:
        """Derive the layout; a relative ``data_dir`` is taken relative to the current directory."""
        stack = settings.stack
        layout = cls(
            data_dir=Path(stack.data_dir).expanduser().absolute(),
            bind_host=stack.bind_host,
            mqtt_port=settings.mqtt.port,
            kafka_port=kafka_port_of(settings.kafka.bootstrap_servers),
            influx_port=http_port_of(settings.influx.url),
            influx_rpc_port=stack.influx_rpc_port,
            vm_port=stack.vm_port,
            prometheus_port=stack.prometheus_port,
            metrics_port=settings.metrics_port,
        )
        layout._check_distinct_ports()
        return layout

    def _check_distinct_ports(self) -> None:
        seen: dict[int, str] = {}
        for name, port in self.ports().items():
            if port in seen:
                raise StackError(
                    f"port {port} is configured for both {seen[port]} and {name}; give each its own port"
                )
            seen[port] = name
        if self.metrics_port in seen:
            raise StackError(
                f"metrics_port {self.metrics_port} collides with the stack's {seen[self.metrics_port]} port"
            )

    def ports(self) -> dict[str, int]:
        """Every port the stack listens on, by owner (services plus InfluxDB's RPC port)."""
        return {
            MQTT: self.mqtt_port,
            KAFKA: self.kafka_port,
            INFLUXDB: self.influx_port,
            "influxdb-rpc": self.influx_rpc_port,
            VICTORIA_METRICS: self.vm_port,
            PROMETHEUS: self.prometheus_port,
        }

    @property
    def connect_host(self) -> str:
        """The address clients on this machine use (the bind address, or loopback for a wildcard)."""
        return "127.0.0.1" if self.bind_host in _ANY_ADDRESS else self.bind_host

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "stack.lock"

    def pid_file(self, service: str) -> Path:
        return self.run_dir / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"

    def service_dir(self, service: str) -> Path:
        """Configs and data of one service."""
        return self.data_dir / service

    def owned_paths(self) -> list[Path]:
        """Everything the stack itself creates under ``data_dir`` (what ``--purge`` deletes)."""
        return [self.run_dir, self.logs_dir, self.lock_file, *(self.service_dir(s) for s in ALL_SERVICES)]
