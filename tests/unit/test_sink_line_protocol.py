"""Line protocol encoding: escaping, float formatting, channels, alert and sensor lines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Alert, AlertEvent, Channel, Family
from sinks.line_protocol import (
    SensorTags,
    alert_line,
    escape_key,
    escape_measurement,
    format_float,
    quote_string,
    reading_lines,
    sensor_lines,
    tag_string,
)

ELEVATOR_CHANNELS = ("speed_mps", "door_open", "in_door_zone", "occupied")


def sensor(sensor_id: str, site: str = "plant", area: str = "north", **kw: object) -> Sensor:
    fields: dict[str, object] = {
        "family": Family.HAZCHEM,
        "kind": "tank_level",
        "lat": 31.5,
        "lon": 117.25,
        "gateway_id": "gw-1",
        "unit": "%",
    }
    fields.update(kw)
    return Sensor(sensor_id=sensor_id, site=site, area=area, **fields)  # type: ignore[arg-type]


@pytest.fixture
def registry() -> Registry:
    return Registry(
        [
            sensor("hz-1", site="Plant A, tank=3", area="New Area 1"),
            sensor("hz-2", site="合肥 化工园", area="north"),
            sensor("ev-1", family=Family.ELEVATOR, kind="elevator_status", site="", area="south"),
        ]
    )


# --- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a b", r"a\ b"),
        ("a,b", r"a\,b"),
        ("a=b", r"a\=b"),
        ("a, b=c", r"a\,\ b\=c"),
        ('say "hi"', r'say\ "hi"'),  # quotes are literal in tags
        ("上海 新区", "上海\\ 新区"),
        ("line\nbreak", r"line\nbreak"),  # a raw newline would end the line
        ("tab\there", r"tab\there"),
        ("trailing\\", "trailing"),  # cannot be encoded: the parser would read it as an escape
        ("mid\\dle", "mid\\dle"),
        ("x\\,y", "x\\\\,y"),
    ],
)
def test_escape_key(raw: str, escaped: str) -> None:
    assert escape_key(raw) == escaped


def test_escape_measurement_keeps_equals() -> None:
    assert escape_measurement("my meas,x=1") == r"my\ meas\,x=1"


def test_quote_string_escapes_backslash_and_quote() -> None:
    assert quote_string('he said "a\\b"') == r'"he said \"a\\b\""'


def test_tag_string_sorts_and_skips_empty_values() -> None:
    assert tag_string([("site", "s 1"), ("area", ""), ("family", "hazchem")]) == r",family=hazchem,site=s\ 1"
    assert tag_string([("area", "\\")]) == ""  # only a trailing backslash: nothing left to write


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (1.0, "1.0"),
        (1, "1.0"),
        (-0.5, "-0.5"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-07"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_format_float_always_a_float(x: float, text: str) -> None:
    assert format_float(x) == text
    assert float(text) == float(x)


# --- readings ------------------------------------------------------------------------------------


def test_sensor_tags_escaped_once_per_row(registry: Registry) -> None:
    tags = SensorTags(registry)
    assert len(tags) == 3
    assert (
        tags[0]
        == r",area=New\ Area\ 1,family=hazchem,kind=tank_level,sensor_id=hz-1,site=Plant\ A\,\ tank\=3"
    )
    assert tags[1] == ",area=north,family=hazchem,kind=tank_level,sensor_id=hz-2,site=合肥\\ 化工园"
    assert tags[2] == ",area=south,family=elevator,kind=elevator_status,sensor_id=ev-1"  # empty site omitted


def test_sensor_tags_extend_keeps_row_numbers(registry: Registry) -> None:
    tags = SensorTags(registry)
    tags.extend([sensor("hz-9")])
    assert len(tags) == 4
    assert "sensor_id=hz-9" in tags[3]
    assert tags.sensor_ids[3] == "hz-9"


def test_reading_lines_single_channel(registry: Registry) -> None:
    tags = SensorTags(registry)
    lines = reading_lines(
        tags,
        np.array([1, 0, 1], dtype=np.int32),
        np.array([1_700_000_000_000, 1_700_000_000_500, 1_700_000_001_000], dtype=np.int64),
        np.array([12.0, 3.25, -1e-3]),
    )
    hz2 = "reading,area=north,family=hazchem,kind=tank_level,sensor_id=hz-2,site=合肥\\ 化工园"
    assert lines == [
        hz2 + " value=12.0 1700000000000",
        r"reading,area=New\ Area\ 1,family=hazchem,kind=tank_level,sensor_id=hz-1,site=Plant\ A\,\ tank\=3"
        " value=3.25 1700000000500",
        hz2 + " value=-0.001 1700000001000",
    ]


def test_reading_values_are_floats_even_when_integral(registry: Registry) -> None:
    tags = SensorTags(registry)
    ints = np.array([0, 1, 2], dtype=np.int64)  # an integer array must still produce float fields
    lines = reading_lines(
        tags, np.array([0, 0, 0], dtype=np.int32), np.array([1, 2, 3], dtype=np.int64), ints
    )
    fields = [ln.split(" ")[-2] for ln in lines]
    assert fields == ["value=0.0", "value=1.0", "value=2.0"]


def test_reading_lines_skip_non_finite(registry: Registry) -> None:
    tags = SensorTags(registry)
    values = np.array([1.0, math.nan, math.inf, -math.inf, 2.0])
    lines = reading_lines(tags, np.zeros(5, dtype=np.int32), np.arange(5, dtype=np.int64), values)
    assert [ln.rsplit(" ", 2)[1:] for ln in lines] == [["value=1.0", "0"], ["value=2.0", "4"]]


def test_reading_lines_multi_channel(registry: Registry) -> None:
    tags = SensorTags(registry)
    values = np.array([[1.5, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    lines = reading_lines(
        tags, np.array([2, 2], dtype=np.int32), np.array([10, 20], dtype=np.int64), values, ELEVATOR_CHANNELS
    )
    prefix = "reading,area=south,family=elevator,kind=elevator_status,sensor_id=ev-1 "
    assert lines == [
        prefix + "speed_mps=1.5,door_open=0.0,in_door_zone=1.0,occupied=1.0 10",
        prefix + "speed_mps=0.0,door_open=1.0,in_door_zone=1.0,occupied=0.0 20",
    ]


def test_reading_lines_multi_channel_missing_fields(registry: Registry) -> None:
    tags = SensorTags(registry)
    values = np.array([[1.5, math.nan], [math.nan, math.nan], [math.inf, 2.0]])
    lines = reading_lines(
        tags, np.array([2, 2, 2], dtype=np.int32), np.array([1, 2, 3], dtype=np.int64), values, ("z pk", "xy")
    )
    prefix = "reading,area=south,family=elevator,kind=elevator_status,sensor_id=ev-1 "
    assert lines == [prefix + r"z\ pk=1.5 1", prefix + "xy=2.0 3"]  # the all-NaN reading is not written


def test_reading_lines_channel_names_with_braces_are_not_format_fields(registry: Registry) -> None:
    tags = SensorTags(registry)
    lines = reading_lines(
        tags,
        np.array([0], dtype=np.int32),
        np.array([5], dtype=np.int64),
        np.array([[1.0, 2.0]]),
        ("a{0}", "b}"),
    )
    assert lines[0].endswith(" a{0}=1.0,b}=2.0 5")


def test_reading_lines_empty_and_shape_errors(registry: Registry) -> None:
    tags = SensorTags(registry)
    empty_i = np.array([], dtype=np.int32)
    assert reading_lines(tags, empty_i, np.array([], dtype=np.int64), np.array([])) == []
    with pytest.raises(ValueError, match="disagree"):
        reading_lines(tags, np.array([0], dtype=np.int32), np.array([1, 2]), np.array([1.0]))
    with pytest.raises(ValueError, match="shape"):
        reading_lines(tags, np.array([0], dtype=np.int32), np.array([1]), np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="shape"):
        reading_lines(tags, np.array([0], dtype=np.int32), np.array([1]), np.array([1.0]), ("a", "b"))
    with pytest.raises(IndexError):
        reading_lines(tags, np.array([3], dtype=np.int32), np.array([1]), np.array([1.0]))


def test_reading_lines_accept_strided_views(registry: Registry) -> None:
    tags = SensorTags(registry)
    wide = np.array([[1.0, 2.0, 9.0], [3.0, 4.0, 9.0]])
    lines = reading_lines(tags, np.array([2, 2], dtype=np.int32), np.array([1, 2]), wide[:, :2], ("a", "b"))
    assert [ln.rsplit(" ", 2)[1] for ln in lines] == ["a=1.0,b=2.0", "a=3.0,b=4.0"]
    lines = reading_lines(tags, np.array([0, 0], dtype=np.int32), np.array([1, 2]), wide[:, 1])
    assert [ln.rsplit(" ", 2)[1] for ln in lines] == ["value=2.0", "value=4.0"]


# --- alerts and sensors --------------------------------------------------------------------------


def make_alert(**kw: object) -> Alert:
    fields: dict[str, object] = {
        "sensor_id": "hz-1",
        "rule": "level high",
        "previous_level": "yellow",
        "level": "orange",
        "ts_ms": 1_700_000_000_123,
        "value": 91.0,
        "area": "New Area 1",
        "family": "hazchem",
        "site": "Plant A",
    }
    fields.update(kw)
    return Alert.build(**fields)


def test_alert_line_tags_and_fields() -> None:
    alert = make_alert()
    line = alert_line(alert, alert.level_num)
    assert line == (
        r"alert,area=New\ Area\ 1,channel=hazard,event=transition,family=hazchem,level=orange,"
        r"rule=level\ high,sensor_id=hz-1 "
        f'level_num=3i,value=91.0,alert_id="{alert.alert_id}" 1700000000123'
    )


def test_alert_line_omits_missing_value_and_keeps_integer_level() -> None:
    alert = make_alert(
        value=None,
        channel=Channel.SENSOR_FAULT,
        level="fault",
        previous_level="normal",
        event=AlertEvent.TRANSITION,
    )
    line = alert_line(alert, alert.level_num)
    fields = line.split(" ")[-2]
    assert fields == f'level_num=1i,alert_id="{alert.alert_id}"'
    assert "channel=sensor_fault" in line and "level=fault" in line
    nan_alert = make_alert(value=None)
    assert ",value=" not in alert_line(nan_alert, 0)
    assert "level_num=0i" in alert_line(nan_alert, 0)


def test_alert_line_compound_without_sensor() -> None:
    alert = make_alert(sensor_id="", event=AlertEvent.COMPOUND, rule="rain+landslide", area="Hill 3")
    line = alert_line(alert, 4)
    assert line.startswith(r"alert,area=Hill\ 3,channel=hazard,event=compound,family=hazchem,level=orange,")
    assert "sensor_id=" not in line


def test_sensor_lines_skip_nan_coordinates() -> None:
    reg = Registry(
        [
            sensor("a", lat=31.5, lon=117.25),
            sensor("b", lat=math.nan, lon=117.0),
            sensor("c", lat=math.nan, lon=math.nan),
        ]
    )
    lines = sensor_lines(reg, 42)
    assert lines == [
        "sensor,area=north,family=hazchem,kind=tank_level,sensor_id=a,site=plant lat=31.5,lon=117.25 42",
        "sensor,area=north,family=hazchem,kind=tank_level,sensor_id=b,site=plant lon=117.0 42",
    ]
