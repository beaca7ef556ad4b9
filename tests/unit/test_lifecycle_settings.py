"""Lifecycle settings: layering (defaults < rule < [alarm] < [alarm.rules] < sensor params) and errors."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from detectors.engine import Engine
from detectors.lifecycle import AlarmSettings, ClearMode, LifecycleConfig, LifecycleConfigError
from detectors.lifecycle.testing import echo_rule, tiny_registry
from riskstream.alarm_config import alarm_config_from_mapping, parse_action_lines


def test_layers_later_ones_win_key_by_key() -> None:
    rule = echo_rule(alarm_defaults=AlarmSettings(escalate_after_ms=(0, 1000, 0), clear_readings=3))
    reg = tiny_registry(
        ("s1", "tank_level"),
        ("s2", "tank_level", {"alarm": {"clear_readings": 5, "echo": {"clear_mode": "latched"}}}),
    )
    conf = LifecycleConfig(
        alarm={"raise_readings": 2, "raise_window": 4}, rules={"echo": {"clear_hold_ms": 7}}
    )
    ps = Engine(reg, rules=[rule], lifecycle=conf).pair_settings["echo"]
    assert ps.raise_readings.tolist() == [2, 2] and ps.raise_window.tolist() == [4, 4]
    assert ps.clear_hold_ms.tolist() == [7, 7]
    assert ps.clear_readings.tolist() == [3, 5]  # rule default, then the sensor's params
    assert ps.latched.tolist() == [False, True]
    assert ps.escalate_after_ms[:, 2].tolist() == [1000, 1000]  # the rule's own escalation stays
    assert not ps.pass_through


def test_settings_file_round_trip() -> None:
    text = """
config_version = "v9"
[alarm]
clear_levels = { orange = "yellow" }
escalate_after_ms = { orange = 60000 }
clear_mode = "latched"
[alarm.rules.deadman]
flap_transitions = 3
[deadman]
factor = 2.5
learn_interval = true
[agreement]
at_level = "yellow"
min_rules = 3
"""
    got = alarm_config_from_mapping(tomllib.loads(text))
    assert got.config_version == "v9"
    s = got.lifecycle.rule_settings("any")
    assert s.clear_levels == (1, 2, 2, 4) and s.escalate_after_ms == (0, 0, 60000)
    assert s.clear_mode == ClearMode.LATCHED
    assert got.lifecycle.rule_settings("deadman").flap_transitions == 3
    assert (got.lifecycle.deadman.factor, got.lifecycle.deadman.learn_interval) == (2.5, True)
    assert (got.lifecycle.agreement.at_level, got.lifecycle.agreement.min_rules) == (2, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"alarm": {"raise_readings": 3, "raise_window": 2}}, "raise_readings"),
        ({"alarm": {"raise_window": 17}}, "raise_window"),
        ({"alarm": {"clear_levels": {"yellow": "orange"}}}, "clear level of yellow"),
        ({"alarm": {"flap_transitions": 1}}, "flap_transitions"),
        ({"alarm": {"escalate_after_ms": {"red": 10}}}, "red is the highest"),
        ({"alarm": {"clear_mode": "sticky"}}, "auto or latched"),
        ({"alarm": {"raise_hold_ms": -1}}, "raise_hold_ms"),
        ({"alarm": {"raise_hold_s": 1}}, "unknown alarm setting 'raise_hold_s'"),
        ({"alarm": {"rules": {"echo": {"bogus": 1}}}}, "unknown alarm setting 'bogus'"),
        ({"deadman": {"factor": -1}}, "factor"),
        ({"deadman": {"interval": 3}}, "unknown key"),
        ({"agreement": {"at_level": "purple"}}, "unknown level"),
        ({"agreement": {"at_level": "red", "min_rules": 1}}, "min_rules"),
        ({"alerting": {}}, "unknown section"),
    ],
)
def test_bad_settings_are_refused_with_where_and_what(data: dict, message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        alarm_config_from_mapping(data)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alarm": 3}, "params.alarm must be an object"),
        ({"alarm": {"nope": 1}}, "neither an alarm setting nor a rule"),
        ({"alarm": {"echo": {"raise_window": 99}}}, "raise_window"),
        ({"expected_interval_s": 0}, "expected_interval_s must be > 0"),
        ({"expected_interval_s": "5"}, "must be a number"),
        ({"deadman_factor": -2}, "deadman_factor"),
    ],
)
def test_bad_sensor_params_fail_the_build_naming_the_sensor(params: dict, message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=f"sensor s1.*{message}|{message}"):
        Engine(tiny_registry(("s1", "tank_level", params)), rules=[echo_rule()])


def test_engine_refuses_settings_for_rules_it_does_not_run() -> None:
    with pytest.raises(LifecycleConfigError, match="no_rule"):
        Engine(
            tiny_registry(("s1", "tank_level")),
            rules=[echo_rule()],
            lifecycle=LifecycleConfig(rules={"no_rule": {}}),
        )
    with pytest.raises(ValueError, match="reserved"):
        Engine(tiny_registry(("s1", "tank_level")), rules=[echo_rule("deadman")])


def test_action_lines_are_validated_together_and_bad_ones_reported() -> None:
    data = b'{"action":"ack","target":"s1","ts_ms":5}\n\n{"action":"snooze","target":"s1","ts_ms":5}\n[\n'
    got = parse_action_lines(data)
    assert [(a.action.value, a.target) for a in got.actions] == [("ack", "s1")]
    assert [line for line, _ in got.bad] == [3, 4]


def test_settings_changes_keep_snapshots_usable() -> None:
    reg = tiny_registry(("s1", "tank_level"))
    a = Engine(reg, rules=[echo_rule()])
    b = Engine(reg, rules=[echo_rule()], lifecycle=LifecycleConfig(alarm={"clear_readings": 2}))
    _, state = a.process(a.init_state(), [0], [0], [3.0])
    restored = b.restore(a.snapshot(state))
    alerts, _ = b.process(restored, [0, 0], [1, 2], np.array([0.0, 0.0]))
    assert [(x.ts_ms, x.level) for x in alerts] == [(2, "normal")]  # the new clear_readings applies
