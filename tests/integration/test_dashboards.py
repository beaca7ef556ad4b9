"""The Grafana boards, Prometheus rules and docker-compose deployment in ``deploy/``, checked for real.

Grafana itself cannot run here (design.md §6), so:

- every InfluxQL query of every panel and dashboard variable runs against the real InfluxDB 1.6 of the
  local stack, on sample data written through the real sinks (``InfluxV1Sink`` + ``line_protocol``)
  into a fresh database, with Grafana's macros and variables substituted the way Grafana does; each
  must succeed and return data, and table columns must not be all empty (a misspelt field or tag
  comes back as an empty column, not as an error);
- the "active alarms" counts are compared with the latest level per (sensor, rule) computed in
  Python from the alerts written;
- every PromQL query of every panel and every alert-rule expression runs against the real
  Prometheus (``/api/v1/query``) after it scraped a test exporter carrying the worker and gateway
  metrics adapters (dropped in through file-SD); panel queries must return series;
- ``promtool`` checks ``deploy/prometheus/prometheus.yml`` and ``rules.yml`` and runs the rule unit
  tests ``rules.test.yml``;
- ``deploy/docker-compose.yml`` (Docker is not available) is checked for consistency: services,
  mounts, secrets, the riskstream commands and ``RISKSTREAM_*`` variables against the real CLI and
  settings, scrape targets against services and metrics ports, and its shell scripts with ``sh -n``.

The tests that need no service (structure, compose) are not marked integration.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from ingest.metrics import PrometheusGatewayMetrics
from riskstream.cli import build_parser
from riskstream.registry import Registry
from riskstream.schemas import Alert, AlertEvent, Channel
from riskstream.settings import RiskstreamSettings
from sinks.influx import InfluxV1Sink
from sinks.influx_query import query_v1
from sinks.line_protocol import SensorTags, alert_line, reading_lines, sensor_lines
from streams.metrics import PrometheusWorkerMetrics

if TYPE_CHECKING:
    from riskstream.stack.testing import StackInfo

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
PROMETHEUS_DIR = DEPLOY / "prometheus"
COMPOSE = DEPLOY / "docker-compose.yml"
REGISTRY_CSV = DEPLOY / "registry.example.csv"

# What Grafana puts in for its macros (InfluxQL and PromQL).
INTERVAL = "1m"
RATE_INTERVAL = "1m"
RANGE_MS = 6 * 3600 * 1000
LEFTOVER_VARIABLE = re.compile(r"\$(\{?\w+)")  # "$" before a word: a macro or variable not substituted


# --- the boards --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    board: str
    panel: str
    ref_id: str
    query: str
    result_format: str

    @property
    def id(self) -> str:
        return f"{self.board}:{self.panel}:{self.ref_id}"


def load_boards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


BOARDS = load_boards()


def panels_of(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def panel_queries(kind: str) -> list[PanelQuery]:
    out = []
    for name, board in BOARDS.items():
        for panel in panels_of(board):
            for t in panel.get("targets", []):
                ds_type = (t.get("datasource") or panel.get("datasource") or {}).get("type")
                if ds_type != kind:
                    continue
                text = t["query"] if kind == "influxdb" else t["expr"]
                out.append(PanelQuery(name, panel["title"], t["refId"], text, t.get("resultFormat", "")))
    return out


INFLUX_QUERIES = panel_queries("influxdb")
PROM_QUERIES = panel_queries("prometheus")


def variables_of(board: dict[str, Any]) -> list[dict[str, Any]]:
    return board.get("templating", {}).get("list", [])


def influx_tag_variables(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in variables_of(board) if v["type"] == "query" and v["datasource"]["type"] == "influxdb"]


def grafana_regex_escape(value: str) -> str:
    """Grafana's regexEscape for variable values inside InfluxQL regexes."""
    return re.sub(r"([\\^$.|?*+()\[\]{}/-])", r"\\\1", value)


def render_influxql(query: str, variables: dict[str, str], now_ms: int) -> str:
    """Substitute Grafana's InfluxQL macros and the dashboard variables, as Grafana does."""
    q = query.replace("$timeFilter", f"time >= {now_ms - RANGE_MS}ms and time <= {now_ms}ms")
    q = q.replace("$__interval_ms", "60000").replace("$__interval", INTERVAL).replace("$interval", INTERVAL)
    for name in sorted(variables, key=len, reverse=True):
        q = re.sub(r"\$\{" + name + r"(?::\w+)?\}|\$" + name + r"\b", lambda _m, n=name: variables[n], q)
    leftover = LEFTOVER_VARIABLE.findall(q)
    assert not leftover, f"unknown variables/macros {leftover} in {query!r}"
    return q


def render_promql(expr: str) -> str:
    q = (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", "15s")
        .replace("$__range", "1h")
    )
    leftover = LEFTOVER_VARIABLE.findall(q)
    assert not leftover, f"unknown variables/macros {leftover} in {expr!r}"
    return q


# --- structure (no services) -------------------------------------------------------------------------


def test_boards_exist_and_cover_both_datasources() -> None:
    assert set(BOARDS) == {"riskstream-operator", "riskstream-pipeline"}
    assert len(INFLUX_QUERIES) >= 10 and len(PROM_QUERIES) >= 10
    titles = {p["title"] for b in BOARDS.values() for p in panels_of(b)}
    assert {"Sensors", "Active alarms by level", "Latest alerts", "Event-time lag by worker"} <= titles
    assert any(p["type"] == "geomap" for p in panels_of(BOARDS["riskstream-operator"]))


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_structure(name: str) -> None:
    board = BOARDS[name]
    assert board["uid"] == name and board["title"] and "riskstream" in board["tags"]
    ds_vars = {v["name"]: v["query"] for v in variables_of(board) if v["type"] == "datasource"}
    assert ds_vars, "boards pick their datasources through datasource variables"
    ids = [p["id"] for p in panels_of(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels_of(board):
        if panel["type"] == "row":
            continue
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for t in panel["targets"]:
            ds = t.get("datasource") or panel["datasource"]
            var = re.fullmatch(r"\$\{(\w+)\}", ds["uid"])
            assert var and ds_vars.get(var.group(1)) == ds["type"], f"{panel['title']}: datasource {ds}"
            if ds["type"] == "influxdb":
                assert t.get("rawQuery") is True and t["query"].lstrip().upper().startswith("SELECT")
                assert t["resultFormat"] in ("time_series", "table")
            else:
                assert t["expr"].strip()


def test_geomap_reads_the_columns_its_query_returns() -> None:
    geomap = next(p for p in panels_of(BOARDS["riskstream-operator"]) if p["type"] == "geomap")
    query = geomap["targets"][0]["query"]
    for layer in geomap["options"]["layers"]:
        loc = layer["location"]
        assert loc["mode"] == "coords"
        for column in (loc["latitude"], loc["longitude"]):
            assert f'AS "{column}"' in query


def test_grafana_provisioning_matches_boards_and_compose() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    grafana = compose["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/riskstream.yml").read_text())
    types = {d["type"] for d in datasources["datasources"]}
    board_types = {v["query"] for b in BOARDS.values() for v in variables_of(b) if v["type"] == "datasource"}
    assert board_types <= types
    env = grafana["environment"]
    for ds in datasources["datasources"]:
        for ref in re.findall(r"\$(\w+)", json.dumps(ds)):
            assert ref in env, (
                f"datasource {ds['name']} reads ${ref}, not set for grafana in docker-compose.yml"
            )
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/riskstream.yml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    assert paths == {mounts["./grafana/dashboards"]}
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(mounts["./grafana/dashboards"] + "/")
    assert (DASHBOARDS / Path(home).name).is_file()


# --- docker-compose (no Docker here: consistency checks) --------------------------------------------

COMPOSE_VAR = re.compile(r"\$\{(\w+)(?::?[-?])?([^}]*)\}")


def compose_doc() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def resolve_defaults(text: str) -> str:
    """``${VAR:-default}`` -> default; ``${VAR:?msg}`` / ``${VAR}`` -> a placeholder value."""
    return COMPOSE_VAR.sub(lambda m: m.group(2) if ":-" in m.group(0) else f"<{m.group(1)}>", text)


def test_compose_has_the_production_services() -> None:
    services = compose_doc()["services"]
    assert {"kafka", "mosquitto", "influxdb", "prometheus", "grafana", "gateway", "detect"} <= set(services)
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"], "Kafka runs in KRaft mode"
    assert not any("zookeeper" in name for name in services)
    assert services["influxdb"]["image"].startswith("influxdb:2.")
    mosquitto = services["mosquitto"]
    conf = (DEPLOY / "mosquitto/mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^password_file ", conf, re.M) and re.search(r"^acl_file ", conf, re.M)
    assert "mqtt_users" in mosquitto["secrets"]


def test_compose_references_resolve() -> None:
    doc = compose_doc()
    services = doc["services"]
    volumes = set(doc.get("volumes") or {})
    for name, svc in services.items():
        for dep in svc.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes", []):
            source = resolve_defaults(vol).split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in volumes, f"{name}: named volume {source} not declared"
        for secret in svc.get("secrets", []):
            assert secret in doc["secrets"], f"{name}: secret {secret} not declared"
        build = svc.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    for secret in doc["secrets"].values():
        # secrets hold real passwords and are not committed; an example must be
        path = DEPLOY / secret["file"]
        assert path.with_name(path.name + ".example").is_file() or path.with_suffix(".example").is_file()
        assert path.name in (path.parent / ".gitignore").read_text().split()


def test_compose_required_variables_are_documented() -> None:
    required = {m.group(1) for m in COMPOSE_VAR.finditer(COMPOSE.read_text()) if ":?" in m.group(0)}
    assert {"INFLUX_TOKEN", "GRAFANA_ADMIN_PASSWORD", "MQTT_INGEST_PASSWORD"} <= required
    readme = (DEPLOY / "README.md").read_text()
    assert not [v for v in required if v not in readme], (
        "document every required variable in deploy/README.md"
    )


def _settings_field_exists(path: list[str]) -> bool:
    model: Any = RiskstreamSettings
    for part in path:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        model = fields[part].annotation
    return True


@pytest.mark.parametrize("service", ["gateway", "detect"])
def test_compose_riskstream_services_use_real_commands_and_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = compose_doc()["services"][service]
    build_parser().parse_args(svc["command"])  # exits (fails the test) on an unknown command or option
    env = {k: resolve_defaults(str(v)) for k, v in svc["environment"].items()}
    for key in env:
        assert key.startswith("RISKSTREAM_")
        path = key.removeprefix("RISKSTREAM_").lower().split("__")
        assert _settings_field_exists(path), f"{service}: {key} is not a riskstream setting"
    for key in [k for k in os.environ if k.startswith("RISKSTREAM_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = RiskstreamSettings()  # validates the values
    assert settings.metrics_port > 0


def test_prometheus_scrapes_the_compose_services_on_their_metrics_port() -> None:
    services = compose_doc()["services"]
    conf = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    scraped = set()
    for job in conf["scrape_configs"]:
        if not job["job_name"].startswith("riskstream"):
            continue
        for sc in job["static_configs"]:
            for target in sc["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"scrape target {target}: no such compose service"
                assert services[host]["environment"]["RISKSTREAM_METRICS_PORT"] == port
                scraped.add(host)
    assert scraped == {"gateway", "detect"}
    # the rules match the job names
    assert all(
        j["job_name"].startswith("riskstream")
        for j in conf["scrape_configs"]
        if j["job_name"] != "prometheus"
    )


def _compose_scripts() -> list[tuple[str, str, str]]:
    out = []
    for name, svc in compose_doc()["services"].items():
        entry = svc.get("entrypoint") or []
        if len(entry) == 2 and entry[1] == "-c":
            script = svc["command"][0].replace("$$", "$")  # compose's escape for a literal $
            out.append((name, Path(entry[0]).name, script))
    return out


@pytest.mark.parametrize(
    ("service", "shell", "script"), _compose_scripts(), ids=[s for s, _, _ in _compose_scripts()]
)
def test_compose_shell_scripts_parse(service: str, shell: str, script: str) -> None:
    exe = shutil.which(shell)
    assert exe, f"{shell} not found"
    res = subprocess.run([exe, "-n", "-c", script], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, f"{service}: {res.stderr}"


def test_mosquitto_start_script_parses() -> None:
    res = subprocess.run(["sh", "-n", str(DEPLOY / "mosquitto/start.sh")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# --- promtool ----------------------------------------------------------------------------------------


def promtool() -> str:
    """promtool ships with the Debian ``prometheus`` package, which the stack installs."""
    exe = shutil.which("promtool") or shutil.which("promtool", path="/usr/bin:/usr/local/bin")
    assert exe, (
        "promtool not found: install the Debian package prometheus (riskstream stack up --with-extras)"
    )
    return exe


@pytest.mark.integration
@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "rules.yml"],
        ["test", "rules", "rules.test.yml"],
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(stack: StackInfo, args: list[str]) -> None:
    res = subprocess.run([promtool(), *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


# --- InfluxDB: every InfluxQL panel query on sample data ---------------------------------------------


@dataclass
class InfluxSample:
    url: str
    db: str
    now_ms: int
    registry: Registry
    alerts: list[Alert]


def _sample_alerts(registry: Registry, now_ms: int) -> list[Alert]:
    """Transitions and operator events; some end above normal, some cleared, one compound, faults."""
    by_kind: dict[str, list[Any]] = {}
    for s in registry:
        by_kind.setdefault(s.kind, []).append(s)
    minute = 60_000
    t = now_ms - 90 * minute
    out: list[Alert] = []

    def add(
        sensor: Any,
        rule: str,
        steps: list[str],
        *,
        channel: Channel = Channel.HAZARD,
        value: float = 1.0,
        event: AlertEvent = AlertEvent.TRANSITION,
    ) -> None:
        nonlocal t
        prev = "normal"
        for level in steps:
            t += minute
            out.append(
                Alert.build(
                    sensor_id=sensor.sensor_id,
                    site=sensor.site,
                    area=sensor.area,
                    family=sensor.family.value,
                    kind=sensor.kind,
                    rule=rule,
                    level=level,
                    previous_level=prev,
                    ts_ms=t,
                    value=value,
                    channel=channel,
                    event=event,
                    reason="test",
                )
            )
            prev = level

    gas = by_kind["combustible_gas"]
    add(gas[0], "gas_two_stage", ["yellow", "red"], value=55.0)  # active red
    add(gas[1], "gas_two_stage", ["yellow", "normal"], value=30.0)  # cleared
    add(by_kind["well_methane"][0], "well_methane", ["orange"], value=40.0)  # active orange
    add(by_kind["rain_gauge"][0], "rainstorm", ["blue"], value=52.0)  # active blue
    pressure = by_kind["pipeline_pressure"][0]
    add(pressure, "pipeline_pressure_band", ["yellow"], value=420.0)  # active yellow ...
    add(pressure, "pipeline_pressure_band", ["yellow"], event=AlertEvent.ACK, value=420.0)  # ... acknowledged
    add(by_kind["tank_level"][0], "tank_level_limits", ["yellow", "orange", "yellow"], value=88.0)  # yellow
    add(by_kind["elevator_status"][0], "deadman", ["fault"], channel=Channel.SENSOR_FAULT)  # in fault
    add(by_kind["crack_meter"][0], "deadman", ["fault", "normal"], channel=Channel.SENSOR_FAULT)  # recovered
    t += minute
    out.append(  # a compound alert: no sensor, one area
        Alert.build(
            sensor_id="",
            area=gas[0].area,
            rule="gas_cluster",
            level="orange",
            previous_level="normal",
            ts_ms=t,
            event=AlertEvent.COMPOUND,
            reason="test",
        )
    )
    return out


def _sample_lines(registry: Registry, now_ms: int) -> list[str]:
    """Readings of every sensor every 10 minutes over the last 2 hours, sensor positions, alerts."""
    rng = np.random.default_rng(7)
    tags = SensorTags(registry)
    times = np.arange(now_ms - 2 * 3600_000, now_ms, 600_000, dtype=np.int64)
    lines: list[str] = []
    for row, sensor in enumerate(registry):
        rows = np.full(times.size, row, dtype=np.int32)
        channels = sensor.spec.channels
        if channels:
            values = rng.uniform(0.0, 1.0, size=(times.size, len(channels)))
        elif sensor.kind == "rain_gauge":
            values = rng.uniform(0.0, 5.0, size=times.size)
        elif sensor.spec.unit == "%LEL":
            values = rng.uniform(0.0, 60.0, size=times.size)
        else:
            values = rng.normal(50.0, 5.0, size=times.size)
        lines += reading_lines(tags, rows, times, values, channels)
    lines += sensor_lines(registry, now_ms - 3 * 3600_000)
    return lines


@pytest.fixture(scope="module")
def influx_sample(stack: StackInfo) -> Iterator[InfluxSample]:
    db = stack.new_database("t_dashboards")
    registry = Registry.load(REGISTRY_CSV)
    now_ms = int(time.time() * 1000)
    alerts = _sample_alerts(registry, now_ms)
    with InfluxV1Sink(stack.influx_url, db) as sink:
        sink.add(_sample_lines(registry, now_ms))
        sink.add([alert_line(a, a.level_num) for a in alerts])
    try:
        yield InfluxSample(stack.influx_url, db, now_ms, registry, alerts)
    finally:
        query_v1(stack.influx_url, db, f'DROP DATABASE "{db}"')


def _variable_values(sample: InfluxSample, board: dict[str, Any]) -> dict[str, list[str]]:
    """Each InfluxDB tag variable's values, from its own query on the sample database."""
    out = {}
    for var in influx_tag_variables(board):
        rows = query_v1(sample.url, sample.db, render_influxql(var["query"], {}, sample.now_ms))
        out[var["name"]] = sorted({r["value"] for r in rows})
    return out


def _all_variables(board: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v.get("allValue") or ".*" for v in influx_tag_variables(board)}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(n for n, b in BOARDS.items() if influx_tag_variables(b)))
def test_influx_variable_queries_return_the_written_tags(influx_sample: InfluxSample, name: str) -> None:
    values = _variable_values(influx_sample, BOARDS[name])
    expected = {
        "family": {s.family.value for s in influx_sample.registry},
        "area": {s.area for s in influx_sample.registry},
    }
    for var, got in values.items():
        assert got, f"variable {var} has no values"
        if var in expected:
            assert set(got) == expected[var]


@pytest.mark.integration
@pytest.mark.parametrize("pq", INFLUX_QUERIES, ids=lambda pq: pq.id)
def test_influxql_panel_query_returns_data(influx_sample: InfluxSample, pq: PanelQuery) -> None:
    board = BOARDS[pq.board]
    query = render_influxql(pq.query, _all_variables(board), influx_sample.now_ms)
    rows = query_v1(influx_sample.url, influx_sample.db, query)  # raises SinkError on any query error
    assert rows, f"no data for {pq.id}: {query}"
    if pq.result_format == "table":
        columns = {k for r in rows for k in r} - {"_measurement"}
        empty = sorted(c for c in columns if all(r.get(c) is None for r in rows))
        assert not empty, f"{pq.id}: columns {empty} are empty (misspelt field or tag?)"
    else:
        values = [v for r in rows for k, v in r.items() if k not in ("time", "_measurement")]
        assert any(isinstance(v, (int, float)) and not math.isnan(v) for v in values), pq.id
    # one value of each variable (as Grafana sends a single selection) must be valid InfluxQL too
    for var, vals in _variable_values(influx_sample, board).items():
        one = {**_all_variables(board), var: "(" + grafana_regex_escape(vals[0]) + ")"}
        query_v1(influx_sample.url, influx_sample.db, render_influxql(pq.query, one, influx_sample.now_ms))


def _expected_active(alerts: list[Alert], channel: Channel) -> dict[int, int]:
    """Latest level per (sensor, rule, area, family), counted per level above normal."""
    latest: dict[tuple[str, str, str, str], Alert] = {}
    for a in sorted(alerts, key=lambda a: a.ts_ms):
        if a.channel == channel:
            latest[(a.sensor_id, a.rule, a.area, a.family)] = a
    counts: dict[int, int] = {}
    for a in latest.values():
        if a.level_num > 0:
            counts[a.level_num] = counts.get(a.level_num, 0) + 1
    return counts


@pytest.mark.integration
def test_active_alarm_panels_count_the_latest_level_per_sensor_and_rule(influx_sample: InfluxSample) -> None:
    board = BOARDS["riskstream-operator"]
    expected = {
        "Active alarms by level": _expected_active(influx_sample.alerts, Channel.HAZARD),
        "Sensors in fault": _expected_active(influx_sample.alerts, Channel.SENSOR_FAULT),
    }
    assert expected["Active alarms by level"] == {4: 1, 3: 2, 2: 2, 1: 1}  # the sample covers every level
    for panel in panels_of(board):
        if panel["title"] not in expected:
            continue
        got = {}
        for t in panel["targets"]:
            level_num = int(re.search(r'WHERE "level_num" = (\d+)\s*$', t["query"]).group(1))
            rows = query_v1(
                influx_sample.url,
                influx_sample.db,
                render_influxql(t["query"], _all_variables(board), influx_sample.now_ms),
            )
            if rows:
                got[level_num] = rows[0]["count"]
        assert got == expected[panel["title"]], panel["title"]
    table = next(p for p in panels_of(board) if p["title"] == "Active alarms")
    rows = query_v1(
        influx_sample.url,
        influx_sample.db,
        render_influxql(table["targets"][0]["query"], _all_variables(board), influx_sample.now_ms),
    )
    assert len(rows) == sum(expected["Active alarms by level"].values())


# --- Prometheus: every PromQL panel query and alert rule against scraped test metrics -------------------


@dataclass
class PromSample:
    url: str
    label: str  # value of the riskstream_test label on the test exporter's series


def _prom_query(url: str, expr: str) -> dict[str, Any]:
    form = urllib.parse.urlencode({"query": expr}).encode()
    req = urllib.request.Request(f"{url}/api/v1/query", data=form, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 400 bad_data: a syntax or evaluation error
        raise AssertionError(f"PromQL {expr!r} failed: {exc.code} {exc.read().decode()}") from exc
    assert doc["status"] == "success", doc
    return doc["data"]


def _feed(worker: PrometheusWorkerMetrics, gateway: PrometheusGatewayMetrics) -> None:
    alerts = [
        Alert.build(sensor_id="s", rule="r", level=lv, previous_level="normal", ts_ms=i)
        for i, lv in enumerate(["blue", "yellow", "orange", "red", "red"])
    ]
    worker.on_batch(1234, alerts, 3, 0.04)
    worker.on_commit(2.0)
    gateway.on_message_in(2048)
    gateway.on_decoded(1237, 1, 0.002)
    gateway.on_readings_delivered(1234)
    gateway.on_dead_letter_delivered("unknown_sensor")
    gateway.on_delivery_error("riskstream.readings")
    gateway.on_mqtt_acked(1)
    gateway.on_mqtt_connection(True)


@pytest.fixture(scope="module")
def prom_sample(stack: StackInfo) -> Iterator[PromSample]:
    registry = CollectorRegistry()
    worker, gateway = PrometheusWorkerMetrics(registry), PrometheusGatewayMetrics(registry)
    _feed(worker, gateway)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = server.server_port
    label = stack.unique_name("t_dashboards")
    targets_dir = stack.prometheus_targets_dir
    targets_dir.mkdir(parents=True, exist_ok=True)
    target = targets_dir / f"{label}.json"
    tmp = targets_dir / f".{label}.tmp"  # not *.json: Prometheus never reads a half-written file
    tmp.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"riskstream_test": label}}]))
    tmp.rename(target)
    try:
        deadline = time.monotonic() + 90
        selector = f'riskstream_worker_readings_total{{riskstream_test="{label}"}}'
        samples = 0
        while time.monotonic() < deadline:
            result = _prom_query(stack.prometheus_url, f"count_over_time({selector}[2m])")["result"]
            samples = int(float(result[0]["value"][1])) if result else 0
            if samples >= 2:  # rate() needs two samples
                break
            time.sleep(1)
        assert samples >= 2, (
            f"Prometheus at {stack.prometheus_url} did not scrape the test exporter 127.0.0.1:{port} "
            f"twice within 90 s (file-SD target {target})"
        )
        yield PromSample(stack.prometheus_url, label)
    finally:
        target.unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.integration
def test_core_series_are_scraped(prom_sample: PromSample) -> None:
    sel = f'riskstream_test="{prom_sample.label}"'

    def value(expr: str) -> float:
        result = _prom_query(prom_sample.url, expr)["result"]
        assert len(result) == 1, f"{expr}: {result}"
        return float(result[0]["value"][1])

    assert value(f"riskstream_worker_readings_total{{{sel}}}") == 1234
    assert value(f'riskstream_worker_alerts_total{{{sel},level="red"}}') == 2
    assert value(f'riskstream_worker_alerts_total{{{sel},level="normal"}}') == 0
    assert value(f"riskstream_worker_rejected_total{{{sel}}}") == 3
    assert value(f"riskstream_worker_batches_total{{{sel}}}") == 1
    assert value(f"riskstream_worker_batch_seconds_count{{{sel}}}") == 1
    assert 2 <= value(f"riskstream_worker_event_time_lag_seconds{{{sel}}}") < 600
    assert value(f"riskstream_ingest_readings_total{{{sel}}}") == 1234
    assert value(f'riskstream_ingest_dead_letters_total{{{sel},reason="unknown_sensor"}}') == 1
    assert value(f"riskstream_ingest_mqtt_connected{{{sel}}}") == 1


@pytest.mark.integration
@pytest.mark.parametrize("pq", PROM_QUERIES, ids=lambda pq: pq.id)
def test_promql_panel_query_returns_series(prom_sample: PromSample, pq: PanelQuery) -> None:
    data = _prom_query(prom_sample.url, render_promql(pq.query))
    assert data["result"], f"no series for {pq.id}: {pq.query}"


def _rule_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    return [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"] if "alert" in r]


@pytest.mark.integration
@pytest.mark.parametrize(("alert", "expr"), _rule_exprs(), ids=[a for a, _ in _rule_exprs()])
def test_alert_rule_expression_evaluates(prom_sample: PromSample, alert: str, expr: str) -> None:
    _prom_query(prom_sample.url, expr)  # syntax and evaluation; whether it fires is rules.test.yml's job
