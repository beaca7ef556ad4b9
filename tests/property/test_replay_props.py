"""Property: ``riskstream replay`` equals feeding the same readings and actions to the engine in any
batch split (same alert ids, same order per sensor).

The replay code path writes the readings as JSON lines in a random order, decodes and sorts them and
feeds the live engine; the reference feeds the engine directly with the event-time stream (readings
sorted by ts_ms, each action after the readings stamped at or before it) cut at arbitrary points. The
lifecycle settings switch on every timer and notification feature, so escalation, deadman, flapping,
shelve expiry and acknowledgements all cross batch boundaries.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from detectors.engine import Engine
from detectors.lifecycle.testing import echo_rule, tiny_registry
from riskstream.alarm_config import alarm_config_from_mapping
from riskstream.commands.replay import ReadingColumns, replay_columns, replay_files
from riskstream.schemas import Alert, OperatorAction

SENSORS = ("a-1", "a-2", "b-1")
CHANNELS = ("speed_mps", "door_open", "in_door_zone", "occupied")
CONFIG = """
[alarm]
raise_readings = 2
raise_window = 3
clear_hold_ms = 3000
escalate_after_ms = { yellow = 8000, orange = 8000 }
deescalate_step_ms = 4000
flap_transitions = 4
flap_window_ms = 20000
flap_settle_ms = 6000

[alarm.rules.echo_b]
clear_mode = "latched"

[deadman]
factor = 2.0
learn_interval = true

[agreement]
at_level = "orange"
"""


def registry():
    return tiny_registry(
        ("a-1", "elevator_status", {"expected_interval_s": 2}),
        ("a-2", "elevator_status"),
        ("b-1", "elevator_status"),
        site="site-1",
    )


def rules():
    return [
        echo_rule("echo_a", ("elevator_status",), "speed_mps"),
        echo_rule("echo_b", ("elevator_status",), "door_open"),
    ]


runs_st = st.lists(
    st.tuples(
        st.sampled_from(SENSORS),
        st.integers(0, 90),  # start, seconds
        st.integers(1, 12),  # readings, one per second
        st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.0, 2.5]),  # level of rule echo_a
        st.sampled_from([0.0, 3.0, 4.0]),  # level of rule echo_b
    ),
    min_size=1,
    max_size=25,
)


def expand(runs: list[tuple[str, int, int, float, float]]) -> list[tuple[str, int, float, float]]:
    """Runs of readings at one level each (levels must persist to pass debounce, to escalate, …)."""
    return [(s, t0 + k, a, b) for s, t0, n, a, b in runs for k in range(n)]


actions_st = st.lists(
    st.builds(
        dict,
        action=st.sampled_from(["ack", "shelve", "unshelve", "maintenance"]),
        target=st.sampled_from([*SENSORS, "site-1", "unknown"]),
        ts_ms=st.integers(0, 125_000),
        until_ts_ms=st.one_of(st.none(), st.integers(0, 140_000)),
        by=st.just("op"),
    ),
    max_size=6,
)


def engine(conf) -> Engine:
    return Engine(registry(), "p-1", rules=rules(), lifecycle=conf.lifecycle)


def per_sensor(alerts: list[Alert]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for a in alerts:
        out[a.sensor_id].append(a.alert_id)
    return dict(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs_st, actions_st, st.randoms(use_true_random=False), st.lists(st.integers(1, 80), max_size=6))
def test_replay_equals_the_engine_in_any_batch_split(runs, actions, rnd, cuts) -> None:
    import tomllib

    conf = alarm_config_from_mapping(tomllib.loads(CONFIG))
    recs = [
        {
            "v": 1,
            "sensor_id": s,
            "ts_ms": t * 1000,
            "values": dict(zip(CHANNELS, (a, b, 1.0, 0.0), strict=True)),
        }
        for s, t, a, b in expand(runs)
    ]
    acts = [OperatorAction(**a) for a in actions]
    lines = [json.dumps(r, separators=(",", ":")) for r in recs]
    order = list(range(len(lines)))
    rnd.shuffle(order)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        reg_path = d / "registry.csv"
        registry().save(reg_path)
        (d / "in.jsonl").write_text("\n".join(lines[i] for i in order) + "\n")
        (d / "actions.jsonl").write_text("\n".join(a.model_dump_json() for a in acts) + "\n")
        (d / "alarms.toml").write_text(CONFIG)
        replay_files(
            registry=reg_path,
            input_path=d / "in.jsonl",
            output_path=d / "out.jsonl",
            config_path=d / "alarms.toml",
            actions_path=d / "actions.jsonl",
            batch=rnd.randint(1, 50),
            rules=rules(),
        )
        replayed = [Alert.model_validate_json(x) for x in (d / "out.jsonl").read_text().splitlines()]

    # reference: the event-time stream into the engine, cut at arbitrary points
    eng = engine(conf)
    # ties in ts_ms keep the file's order (the readings were written shuffled)
    recs_sorted = sorted((recs[i] for i in order), key=lambda r: r["ts_ms"])
    rows = np.array([eng.registry.index[r["sensor_id"]] for r in recs_sorted], dtype=np.int32)
    ts = np.array([r["ts_ms"] for r in recs_sorted], dtype=np.int64)
    vals = np.array([[r["values"][c] for c in CHANNELS] for r in recs_sorted])
    # readings in ts order; each action after the readings stamped at or before it (ties: stable)
    items = [("r", i, int(ts[i])) for i in range(rows.size)] + [("a", k, a.ts_ms) for k, a in enumerate(acts)]
    items.sort(key=lambda item: (item[2], item[0] == "a"))
    stream = [(kind, i) for kind, i, _ in items]
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    state, direct = eng.init_state(), []
    for lo, hi in itertools.pairwise(points):
        piece = stream[lo:hi]
        idx = [i for kind, i in piece if kind == "r"]
        mine = [acts[i] for kind, i in piece if kind == "a"]
        out, state = eng.process(state, rows[idx], ts[idx], vals[idx], mine)
        direct += out
    for a in replayed:
        event(f"{a.event.value} {a.channel.value}")
        for what in ("escalated", "stepped down", "latched", "agree", "flapping ended", "resumed"):
            if what in a.reason:
                event(what)
    assert per_sensor(replayed) == per_sensor(direct)
    assert sorted(a.alert_id for a in replayed) == sorted(a.alert_id for a in direct)

    # and the replay's own batching function agrees with itself at another batch size
    cols = ReadingColumns(rows, ts, vals)
    again = [
        a
        for _, alerts, _ in replay_columns(engine(conf), engine(conf).init_state(), cols, acts, 3)
        for a in alerts
    ]
    assert per_sensor(again) == per_sensor(direct)
