"""Sensor registry: which sensors exist, where they are, what they measure, and their set points.

The registry is a CSV file ``sensor_id,family,kind,site,area,lat,lon,gateway_id,unit,params`` where
``params`` is a JSON object of per-sensor settings (rated speed, alarm set points, noise floor, …).
Inside workers a sensor is a dense integer row; sensor ids are strings only at the edges.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskstream.kinds import KINDS, KindSpec, kind_spec
from riskstream.schemas import Family

COLUMNS = ("sensor_id", "family", "kind", "site", "area", "lat", "lon", "gateway_id", "unit", "params")
_FAMILIES = {f.value: f for f in Family}
#: orjson reads integers outside the 64-bit range as floats of at least this magnitude
_INT64_LIMIT = 2.0**63


class RegistryError(ValueError):
    """A registry file that cannot be used; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class Sensor:
    sensor_id: str
    family: Family
    kind: str
    site: str
    area: str
    lat: float
    lon: float
    gateway_id: str
    unit: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    def to_row(self) -> dict[str, str]:
        return {
            "sensor_id": self.sensor_id,
            "family": self.family.value,
            "kind": self.kind,
            "site": self.site,
            "area": self.area,
            "lat": repr(self.lat),
            "lon": repr(self.lon),
            "gateway_id": self.gateway_id,
            "unit": self.unit,
            "params": json.dumps(self.params, sort_keys=True, separators=(",", ":")),
        }


class Registry:
    """An ordered, indexed collection of sensors (row i is ``sensors[i]``)."""

    def __init__(self, sensors: Iterable[Sensor]) -> None:
        self.sensors: list[Sensor] = list(sensors)
        self.index: dict[str, int] = {}
        for i, s in enumerate(self.sensors):
            if s.sensor_id in self.index:
                raise RegistryError(f"duplicate sensor_id {s.sensor_id!r}")
            self.index[s.sensor_id] = i
        self.kinds: np.ndarray = np.array([s.kind for s in self.sensors], dtype=object)
        self._rows_of_kind: dict[str, list[int]] = {}
        for i, s in enumerate(self.sensors):
            self._rows_of_kind.setdefault(s.kind, []).append(i)

    def __len__(self) -> int:
        return len(self.sensors)

    def __iter__(self) -> Iterator[Sensor]:
        return iter(self.sensors)

    def __contains__(self, sensor_id: object) -> bool:
        return sensor_id in self.index

    def get(self, sensor_id: str) -> Sensor | None:
        i = self.index.get(sensor_id)
        return None if i is None else self.sensors[i]

    def rows_of_kind(self, kind: str) -> np.ndarray:
        """Registry rows of every sensor of ``kind``, ascending (int32; a new array)."""
        return np.array(self._rows_of_kind.get(kind, ()), dtype=np.int32)

    def by_family(self) -> dict[Family, list[Sensor]]:
        out: dict[Family, list[Sensor]] = {}
        for s in self.sensors:
            out.setdefault(s.family, []).append(s)
        return out

    # --- files -------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Registry:
        path = Path(path)
        try:
            fh = path.open(newline="", encoding="utf-8")
        except OSError as exc:
            raise RegistryError(f"cannot read sensor registry {path}: {exc.strerror}") from exc
        with fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            missing = [c for c in COLUMNS if c not in (header or [])]
            if header is None or missing:
                raise RegistryError(
                    f"{path}: missing column(s) {', '.join(missing)}; need {','.join(COLUMNS)}"
                )
            with _collector_paused():  # every object built here stays alive: nothing to collect
                sensors = list(_parse_records(reader, header, path))
        return cls(sensors)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for s in self.sensors:
                writer.writerow(s.to_row())


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off (if it was on) for the duration: building a large registry
    would otherwise trigger full collections that walk every sensor built so far, for no garbage."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _parse_records(reader: Iterator[list[str]], header: list[str], path: Path) -> Iterator[Sensor]:
    """The sensors of the records after the header, as :class:`csv.DictReader` would see them.

    Blank records are skipped and not numbered (line = record number + 1, the header being line 1).
    A record with one field per header name is read by position (a repeated name: its last column, as
    in a dict); a shorter or longer one goes through the dict DictReader builds (missing fields None).
    """
    width = len(header)
    column = {name: i for i, name in enumerate(header)}  # last occurrence wins, as in dict(zip(...))
    pick = operator.itemgetter(*(column[c] for c in COLUMNS))
    line = 1
    for record in reader:
        if not record:
            continue
        line += 1
        if len(record) == width:
            yield _sensor(*pick(record), path, line)
        else:
            yield _parse_row(_as_dict(header, record), path, line)


def _as_dict(header: list[str], record: list[str]) -> dict[str | None, Any]:
    """:class:`csv.DictReader`'s dict of a record: extra fields under None, missing ones None."""
    row: dict[str | None, Any] = dict(zip(header, record, strict=False))
    if len(record) > len(header):
        row[None] = record[len(header) :]
    for name in header[len(record) :]:
        row[name] = None
    return row


def _parse_row(row: Mapping[str | None, Any], path: Path, line: int) -> Sensor:
    return _sensor(*(row.get(c) for c in COLUMNS), path, line)


def _sensor(
    sensor_id: str | None,
    family_name: str | None,
    kind: str | None,
    site: str | None,
    area: str | None,
    lat_text: str | None,
    lon_text: str | None,
    gateway_id: str | None,
    unit: str | None,
    params_text: str | None,
    path: Path,
    line: int,
) -> Sensor:
    """One record's sensor (fields in :data:`COLUMNS` order; None = missing); checks in a fixed order,
    so the first problem of a record is the one reported."""
    family = _FAMILIES.get(family_name) if isinstance(family_name, str) else None
    if family is None:
        raise RegistryError(
            f"{path}:{line}: unknown family {family_name!r}; one of {', '.join(f.value for f in Family)}"
        )
    try:
        spec = kind_spec(kind)  # type: ignore[arg-type]
    except KeyError as exc:
        raise RegistryError(f"{path}:{line}: {exc.args[0]}") from None
    if spec.family != family:
        raise RegistryError(
            f"{path}:{line}: kind {spec.kind!r} belongs to family {spec.family.value!r}, not {family.value!r}"
        )
    try:
        lat, lon = float(lat_text or "nan"), float(lon_text or "nan")
    except ValueError:
        raise RegistryError(f"{path}:{line}: lat/lon must be numbers") from None
    raw_params = (params_text or "").strip()
    try:
        params = json_loads(raw_params) if raw_params else {}
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}:{line}: params is not JSON: {exc.msg}") from None
    if not isinstance(params, dict):
        raise RegistryError(f"{path}:{line}: params must be a JSON object")
    sensor_id = (sensor_id or "").strip()
    if not sensor_id:
        raise RegistryError(f"{path}:{line}: empty sensor_id")
    return Sensor(
        sensor_id=sensor_id,
        family=family,
        kind=spec.kind,
        site=site or "",
        area=area or "",
        lat=lat,
        lon=lon,
        gateway_id=gateway_id or "",
        unit=unit or spec.unit,
        params=params,
    )


def json_loads(text: str) -> Any:
    """``json.loads(text)``, through orjson where that gives the same object.

    orjson refuses some documents the standard library accepts (NaN, Infinity, overflowing exponents,
    lone surrogates) and reads an integer beyond 64 bits as a float (of magnitude ≥ 2**63): those
    documents, and any holding such a float, take ``json.loads``, which also raises the errors."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _has_huge_float(doc) else doc


def _has_huge_float(doc: Any) -> bool:
    """Whether a parsed JSON document holds a float of magnitude ≥ 2**63 (or NaN) anywhere."""
    todo = [doc]
    while todo:
        node = todo.pop()
        for v in node.values() if type(node) is dict else node if type(node) is list else (node,):
            kind = type(v)
            if kind is float:
                if not -_INT64_LIMIT < v < _INT64_LIMIT:
                    return True
            elif kind is dict or kind is list:
                todo.append(v)
    return False
