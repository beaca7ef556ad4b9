"""Sensor registry: which sensors exist, where they are, what they measure, and their set points.

The registry is a CSV file ``sensor_id,family,kind,site,area,lat,lon,gateway_id,unit,params`` where
``params`` is a JSON object of per-sensor settings (rated speed, alarm set points, noise floor, …).
Inside workers a sensor is a dense integer row; sensor ids are strings only at the edges.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.kinds import KINDS, KindSpec, kind_spec
from riskstream.schemas import Family

COLUMNS = ("sensor_id", "family", "kind", "site", "area", "lat", "lon", "gateway_id", "unit", "params")


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
        """Registry rows of every sensor of ``kind``, ascending (int32)."""
        return np.flatnonzero(self.kinds == kind).astype(np.int32)

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
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise RegistryError(
                    f"{path}: missing column(s) {', '.join(missing)}; need {','.join(COLUMNS)}"
                )
            sensors = [_parse_row(row, path, line) for line, row in enumerate(reader, start=2)]
        return cls(sensors)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for s in self.sensors:
                writer.writerow(s.to_row())


def _parse_row(row: dict[str, str], path: Path, line: int) -> Sensor:
    where = f"{path}:{line}"
    try:
        family = Family(row["family"])
    except ValueError:
        raise RegistryError(
            f"{where}: unknown family {row['family']!r}; one of {', '.join(f.value for f in Family)}"
        ) from None
    try:
        spec = kind_spec(row["kind"])
    except KeyError as exc:
        raise RegistryError(f"{where}: {exc.args[0]}") from None
    if spec.family != family:
        raise RegistryError(
            f"{where}: kind {spec.kind!r} belongs to family {spec.family.value!r}, not {family.value!r}"
        )
    try:
        lat, lon = float(row["lat"] or "nan"), float(row["lon"] or "nan")
    except ValueError:
        raise RegistryError(f"{where}: lat/lon must be numbers") from None
    raw_params = (row.get("params") or "").strip()
    try:
        params = json.loads(raw_params) if raw_params else {}
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{where}: params is not JSON: {exc.msg}") from None
    if not isinstance(params, dict):
        raise RegistryError(f"{where}: params must be a JSON object")
    sensor_id = (row["sensor_id"] or "").strip()
    if not sensor_id:
        raise RegistryError(f"{where}: empty sensor_id")
    return Sensor(
        sensor_id=sensor_id,
        family=family,
        kind=spec.kind,
        site=row["site"] or "",
        area=row["area"] or "",
        lat=lat,
        lon=lon,
        gateway_id=row["gateway_id"] or "",
        unit=row["unit"] or spec.unit,
        params=params,
    )
