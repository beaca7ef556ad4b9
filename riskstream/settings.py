"""Configuration: one TOML file validated by pydantic-settings, overridable by ``RISKSTREAM_…`` variables.

Only the CLI reads files and the environment; library classes take explicit constructor arguments.
Nested keys use ``__`` in variables: ``RISKSTREAM_MQTT__PASSWORD=…`` overrides ``[mqtt] password``.
Secrets are ``SecretStr`` so they never show in logs or reprs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Project-specific local ports, away from the defaults of brokers already on a machine.
DEFAULT_MQTT_PORT = 18831
DEFAULT_KAFKA_PORT = 19093
DEFAULT_INFLUX_PORT = 18087
DEFAULT_INFLUX_RPC_PORT = 18088
DEFAULT_VM_PORT = 18429
DEFAULT_PROMETHEUS_PORT = 19091
DEFAULT_METRICS_PORT = 19101

_STRICT = ConfigDict(extra="forbid")


class MqttSettings(BaseModel):
    model_config = _STRICT
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_MQTT_PORT, ge=1, le=65535)
    username: str = "riskstream"
    password: SecretStr = SecretStr("riskstream-local")
    topic_prefix: str = "riskstream/v1"
    qos: int = Field(1, ge=0, le=2)
    client_id: str = "riskstream-gateway"
    keepalive_s: int = Field(30, ge=5)


class KafkaTopics(BaseModel):
    model_config = _STRICT
    readings: str = "riskstream.readings"
    alerts: str = "riskstream.alerts"
    deadletter: str = "riskstream.deadletter"
    control: str = "riskstream.control"
    state: str = "riskstream.state"


class KafkaSettings(BaseModel):
    model_config = _STRICT
    bootstrap_servers: str = f"127.0.0.1:{DEFAULT_KAFKA_PORT}"
    group_id: str = "riskstream-detect"
    # Static group membership (group.instance.id) for detector workers: a restarted worker takes its
    # place back at once instead of waiting for the dead member's session to expire. Give every
    # worker its own id; empty = "<group_id>@<hostname>".
    instance_id: str = ""
    # Short session timeouts: a group join on the local broker waits about this long (design.md §6).
    session_timeout_ms: int = Field(6000, ge=1000)
    heartbeat_interval_ms: int = Field(1000, ge=100)
    topics: KafkaTopics = KafkaTopics()
    extra: dict[str, str | int | bool] = Field(default_factory=dict, description="passed to librdkafka as is")


class InfluxApi(StrEnum):
    V1 = "v1"
    V2 = "v2"


class InfluxSettings(BaseModel):
    model_config = _STRICT
    api: InfluxApi = InfluxApi.V1
    url: str = f"http://127.0.0.1:{DEFAULT_INFLUX_PORT}"
    database: str = "riskstream"  # v1 database, v2 bucket
    org: str = "riskstream"  # v2 only
    token: SecretStr = SecretStr("")  # v2 only
    username: str = ""  # v1 only
    password: SecretStr = SecretStr("")  # v1 only
    batch_size: int = Field(10_000, ge=1)
    timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0)
    retry_backoff_s: float = Field(0.5, gt=0)


class StackSettings(BaseModel):
    """The local embedded stack (`riskstream stack up`)."""

    model_config = _STRICT
    data_dir: Path = Path(".riskstream")
    bind_host: str = "127.0.0.1"
    install_missing: bool = True
    # MQTT, Kafka and InfluxDB listen on the ports of mqtt.port, kafka.bootstrap_servers and influx.url;
    # these are the stack's other ports (InfluxDB's backup/RPC service and the extras).
    influx_rpc_port: int = Field(DEFAULT_INFLUX_RPC_PORT, ge=1, le=65535)
    vm_port: int = Field(DEFAULT_VM_PORT, ge=1, le=65535)  # victoria-metrics, with --with-extras
    prometheus_port: int = Field(DEFAULT_PROMETHEUS_PORT, ge=1, le=65535)  # prometheus, with --with-extras


class DetectSettings(BaseModel):
    model_config = _STRICT
    max_batch: int = Field(10_000, ge=1)
    poll_timeout_s: float = Field(0.2, gt=0)
    config_version: str = "1"
    # offsets are committed with a detector-state snapshot this often; a crash replays at most this much
    checkpoint_interval_s: float = Field(5.0, gt=0)
    # alarm lifecycle settings (docs/alarms/tuning.md); the same file `riskstream replay --config` reads
    alarm_config: Path | None = None
    # no reading for this long: fire deadman/escalation/shelve timers on the wall clock minus the grace
    idle_after_s: float = Field(10.0, gt=0)
    idle_grace_s: float = Field(30.0, ge=0)


class RiskstreamSettings(BaseSettings):
    """Everything one deployment needs; see deploy/riskstream.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix="RISKSTREAM_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    registry: Path = Path("deploy/registry.example.csv")
    mqtt: MqttSettings = MqttSettings()
    kafka: KafkaSettings = KafkaSettings()
    influx: InfluxSettings = InfluxSettings()
    stack: StackSettings = StackSettings()
    detect: DetectSettings = DetectSettings()
    metrics_port: int = Field(DEFAULT_METRICS_PORT, ge=0, le=65535, description="0 disables the exporter")
    # where the Prometheus exporter listens: loopback unless configured (0.0.0.0 inside a container)
    metrics_host: str = "127.0.0.1"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then RISKSTREAM_* variables, then the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(path: str | Path | None = None, **overrides: Any) -> RiskstreamSettings:
    """Load settings from an optional TOML file, then environment variables, then ``overrides``.

    Raises ``FileNotFoundError`` for a named file that does not exist and pydantic's
    ``ValidationError`` (naming the offending keys) for invalid content.
    """
    if path is None:
        return RiskstreamSettings(**overrides)
    if not Path(path).is_file():
        raise FileNotFoundError(f"config file not found: {path}")

    class _FromFile(RiskstreamSettings):
        model_config = SettingsConfigDict(toml_file=Path(path))

    return _FromFile(**overrides)
