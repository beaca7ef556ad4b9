"""InfluxDB line protocol for the three riskstream measurements: ``reading``, ``alert`` and ``sensor``.

Escaping follows what InfluxDB 1.x's parser accepts (checked against influxd 1.6.7):

- measurement: ``,`` and space are escaped;
- tag keys, tag values and field keys: ``,``, ``=`` and space are escaped; newline, carriage return
  and tab become the two-character sequences ``\\n``, ``\\r``, ``\\t`` (a raw newline would end the
  line); a trailing backslash is removed (the parser would read it as escaping the separator after
  it, and line protocol has no way to write it); an empty tag value omits the tag (the parser
  rejects ``tag=``);
- string field values: ``\\`` and ``"`` are escaped, the value is double-quoted.

Field types never change at runtime (a field's type is fixed per shard): reading values, lat and lon
are always floats written with ``repr`` (``1.0``, never ``1``), ``alert.level_num`` is always an
integer (``3i``). Non-finite floats cannot be written and are skipped (see each function).

Tags are written sorted by key, as InfluxDB recommends, and tags of one sensor are escaped once
(:class:`SensorTags`), so encoding a reading is a single string format call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from riskstream.registry import Registry, Sensor
from riskstream.schemas import Alert

READING = "reading"
ALERT = "alert"
SENSOR = "sensor"

SENSOR_TAG_KEYS = ("sensor_id", "family", "kind", "site", "area")
ALERT_TAG_KEYS = ("sensor_id", "family", "area", "rule", "channel", "level", "event")

_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_STRING = str.maketrans({"\\": "\\\\", '"': '\\"'})


def escape_measurement(name: str) -> str:
    """Escape a measurement name."""
    return name.rstrip("\\").translate(_ESCAPE_MEASUREMENT)


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key (a trailing backslash cannot be encoded and is dropped)."""
    return text.rstrip("\\").translate(_ESCAPE_KEY)


def quote_string(text: str) -> str:
    """A string field value: double-quoted, with backslashes and double quotes escaped."""
    return '"' + text.translate(_ESCAPE_STRING) + '"'


def format_float(x: float) -> str:
    """A float field value; always carries a decimal point or exponent, so it stays a float field."""
    return repr(float(x))


def tag_string(pairs: Iterable[tuple[str, str]]) -> str:
    """``,k=v,k=v`` for the given tags, sorted by key, skipping tags whose escaped value is empty."""
    parts = []
    for key, value in sorted(pairs):
        ev = escape_key(value)
        if ev:
            parts.append(f",{escape_key(key)}={ev}")
    return "".join(parts)


def _sensor_tag_string(sensor: Sensor) -> str:
    return tag_string(
        [
            ("sensor_id", sensor.sensor_id),
            ("family", sensor.family.value),
            ("kind", sensor.kind),
            ("site", sensor.site),
            ("area", sensor.area),
        ]
    )


class SensorTags:
    """The escaped tag string (``,area=…,family=…,kind=…,sensor_id=…,site=…``) of every registry row.

    Built once per registry; row ``i`` of a worker's columnar batch maps to ``tags[i]``.
    """

    __slots__ = ("_reading_prefix", "sensor_ids", "tags")

    def __init__(self, registry: Registry | Iterable[Sensor]) -> None:
        sensors = list(registry)
        self.sensor_ids: list[str] = [s.sensor_id for s in sensors]
        self.tags: list[str] = [_sensor_tag_string(s) for s in sensors]
        self._reading_prefix: list[str] = [READING + t + " " for t in self.tags]

    def __len__(self) -> int:
        return len(self.tags)

    def __getitem__(self, row: int) -> str:
        return self.tags[row]

    def extend(self, sensors: Iterable[Sensor]) -> None:
        """Append rows for sensors added to the registry (rows keep their numbers)."""
        for s in sensors:
            t = _sensor_tag_string(s)
            self.sensor_ids.append(s.sensor_id)
            self.tags.append(t)
            self._reading_prefix.append(READING + t + " ")

    @property
    def reading_prefix(self) -> list[str]:
        """``reading<tags> `` per row: the line up to the field set."""
        return self._reading_prefix


def reading_lines(
    tags: SensorTags,
    rows: np.ndarray,
    ts_ms: np.ndarray,
    values: np.ndarray,
    channels: tuple[str, ...] = (),
) -> list[str]:
    """Lines of measurement ``reading`` for a columnar batch, timestamps in ms (write with precision ms).

    Single-channel (``channels == ()``): ``values`` has shape ``(n,)`` and each line has field
    ``value``. Multi-channel: ``values`` has shape ``(n, len(channels))`` and each line has one float
    field per channel name. Non-finite values (NaN, ±inf) are skipped: a single-channel reading with
    one is not written; a multi-channel reading omits that field, and is not written if no field is left.
    """
    rows = np.asarray(rows)
    ts_ms = np.asarray(ts_ms)
    values = np.asarray(values, dtype=np.float64)
    n = rows.shape[0]
    if ts_ms.shape[0] != n or values.shape[0] != n:
        raise ValueError(
            f"rows, ts_ms and values disagree in length: {n}, {ts_ms.shape[0]}, {values.shape[0]}"
        )
    if n == 0:
        return []
    prefix = tags.reading_prefix
    row_list = rows.tolist()
    if row_list and (min(row_list) < 0 or max(row_list) >= len(prefix)):
        raise IndexError(f"row outside the sensor tags (0..{len(prefix) - 1})")

    if not channels:
        if values.ndim != 1:
            raise ValueError(f"single-channel values must have shape (n,), got {values.shape}")
        finite = np.isfinite(values)
        if not finite.all():
            keep = np.flatnonzero(finite)
            row_list = rows[keep].tolist()
            ts_ms, values = ts_ms[keep], values[keep]
        return list(
            map("{}value={!r} {}".format, map(prefix.__getitem__, row_list), values.tolist(), ts_ms.tolist())
        )

    if values.ndim != 2 or values.shape[1] != len(channels):
        raise ValueError(
            f"values must have shape (n, {len(channels)}) for channels {channels}, got {values.shape}"
        )
    keys = [escape_key(c) for c in channels]
    if not all(keys):
        raise ValueError(f"empty channel name in {channels}")
    finite = np.isfinite(values)
    if finite.all():
        template = "{}" + ",".join(k.replace("{", "{{").replace("}", "}}") + "={!r}" for k in keys) + " {}"
        return list(
            map(template.format, map(prefix.__getitem__, row_list), *values.T.tolist(), ts_ms.tolist())
        )
    # Slow path, only for rows with a missing channel.
    out: list[str] = []
    for r, vals, ok, t in zip(row_list, values.tolist(), finite.tolist(), ts_ms.tolist(), strict=True):
        fields = ",".join(f"{k}={v!r}" for k, v, good in zip(keys, vals, ok, strict=True) if good)
        if fields:
            out.append(f"{prefix[r]}{fields} {t}")
    return out


def alert_line(alert: Alert, level_num: int) -> str:
    """One line of measurement ``alert`` at the alert's ``ts_ms``.

    Tags: sensor_id, family, area, rule, channel, level and event (empty ones omitted). Fields:
    ``level_num`` (integer, always), ``value`` (float; omitted when None or not finite), ``alert_id``
    (string). Two alerts with the same tags and ``ts_ms`` overwrite each other, which makes a replay
    idempotent.
    """
    tags = tag_string(
        [
            ("sensor_id", alert.sensor_id),
            ("family", alert.family),
            ("area", alert.area),
            ("rule", alert.rule),
            ("channel", alert.channel.value),
            ("level", alert.level),
            ("event", alert.event.value),
        ]
    )
    fields = f"level_num={int(level_num)}i"
    if alert.value is not None and math.isfinite(alert.value):
        fields += f",value={format_float(alert.value)}"
    fields += f",alert_id={quote_string(alert.alert_id)}"
    return f"{ALERT}{tags} {fields} {int(alert.ts_ms)}"


def sensor_lines(registry: Registry | Sequence[Sensor], ts_ms: int) -> list[str]:
    """Lines of measurement ``sensor`` (float fields lat, lon; NaN skipped) for map panels.

    A sensor without any coordinate has no field to write and gets no line.
    """
    out: list[str] = []
    t = int(ts_ms)
    for s in registry:
        fields = ",".join(
            f"{name}={format_float(x)}" for name, x in (("lat", s.lat), ("lon", s.lon)) if math.isfinite(x)
        )
        if fields:
            out.append(f"{SENSOR}{_sensor_tag_string(s)} {fields} {t}")
    return out
