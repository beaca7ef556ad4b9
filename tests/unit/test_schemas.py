"""Wire contract v1: what is accepted, what is refused, and the deterministic alert id."""

import hashlib

import pytest
from pydantic import ValidationError

from riskstream.schemas import READINGS_ADAPTER, Alert, Channel, Level, Reading, alert_id_for


def test_reading_single_and_multi_channel() -> None:
    r = Reading.model_validate({"v": 1, "sensor_id": "hz-1", "ts_ms": 1732838400000, "value": 12.5})
    assert r.value == 12.5 and r.values is None
    m = Reading.model_validate({"sensor_id": "el-1", "ts_ms": 1, "values": {"speed_mps": 1.0}})
    assert m.values == {"speed_mps": 1.0}


@pytest.mark.parametrize(
    "bad",
    [
        {"sensor_id": "a", "ts_ms": 1},  # neither value nor values
        {"sensor_id": "a", "ts_ms": 1, "value": 1.0, "values": {"x": 1.0}},  # both
        {"sensor_id": "a", "ts_ms": 1, "value": float("nan")},
        {"sensor_id": "a", "ts_ms": -5, "value": 1.0},
        {"sensor_id": "a", "ts_ms": 1732838400000000, "value": 1.0},  # microseconds, not ms
        {"sensor_id": "", "ts_ms": 1, "value": 1.0},
        {"sensor_id": "a b", "ts_ms": 1, "value": 1.0},
        {"v": 2, "sensor_id": "a", "ts_ms": 1, "value": 1.0},
        {"sensor_id": "a", "ts_ms": 1, "values": {}},
    ],
)
def test_reading_rejects(bad: dict) -> None:
    with pytest.raises(ValidationError):
        Reading.model_validate(bad)


def test_batch_adapter_reports_the_bad_index() -> None:
    good = {"sensor_id": "a", "ts_ms": 1, "value": 1.0}
    with pytest.raises(ValidationError) as info:
        READINGS_ADAPTER.validate_python([good, {"sensor_id": "a"}, good])
    assert {e["loc"][0] for e in info.value.errors()} == {1}


def test_alert_id_is_sha256_of_the_documented_key() -> None:
    key = "s1|gas_two_stage|hazard|1000|normal|yellow|transition"
    assert alert_id_for("s1", "gas_two_stage", "hazard", 1000, "normal", "yellow", "transition") == (
        hashlib.sha256(key.encode()).hexdigest()
    )
    a = Alert.build(sensor_id="s1", rule="gas_two_stage", ts_ms=1000, previous_level="normal", level="yellow")
    b = Alert.build(sensor_id="s1", rule="gas_two_stage", ts_ms=1000, previous_level="normal", level="yellow")
    c = Alert.build(sensor_id="s1", rule="gas_two_stage", ts_ms=1001, previous_level="normal", level="yellow")
    assert a.alert_id == b.alert_id != c.alert_id
    assert a.level_num == Level.YELLOW


def test_alert_level_must_fit_channel() -> None:
    with pytest.raises(ValidationError):
        Alert.build(sensor_id="s", rule="r", ts_ms=1, previous_level="normal", level="fault")
    f = Alert.build(
        sensor_id="s", rule="r", ts_ms=1, previous_level="normal", level="fault", channel=Channel.SENSOR_FAULT
    )
    assert f.level_num == 1
