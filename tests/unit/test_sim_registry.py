"""Generated registries: every kind and family, realistic places and ids, deterministic, CSV round-trip."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from riskstream.kinds import KINDS
from riskstream.registry import Registry
from riskstream.schemas import Family
from simulators.registry_gen import (
    AREAS,
    GAS_DEFAULTS,
    LANDSLIDE_DEFAULTS,
    LAT_RANGE,
    LON_RANGE,
    MAX_SENSORS_PER_GATEWAY,
    PIPELINE_DEFAULTS,
    RAIN_DEFAULTS,
    kind_counts,
    make_registry,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "registry.example.csv"


@pytest.fixture(scope="module")
def reg() -> Registry:
    return make_registry(400, seed=3)


def test_every_kind_and_family_is_present(reg: Registry) -> None:
    assert {s.kind for s in reg} == set(KINDS)
    assert {s.family for s in reg} == set(Family)
    for s in reg:
        assert KINDS[s.kind].family == s.family
        assert s.unit == KINDS[s.kind].unit


def test_smallest_registry_still_has_every_kind() -> None:
    small = make_registry(len(KINDS), seed=1)
    assert Counter(s.kind for s in small) == Counter(dict.fromkeys(KINDS, 1))
    with pytest.raises(ValueError, match="at least"):
        make_registry(len(KINDS) - 1)


def test_kind_counts_add_up() -> None:
    for n in (16, 17, 100, 200, 999, 5000):
        counts = kind_counts(n)
        assert sum(counts.values()) == n
        assert min(counts.values()) >= 1


def test_ids_places_and_gateways_look_real(reg: Registry) -> None:
    id_re = re.compile(r"^(hz|gp|gh|rf|el)-[a-z]{2}-\d{4,}$")
    family_code = {"hz": Family.HAZCHEM, "gp": Family.GAS_PIPELINE, "gh": Family.GEOHAZARD,
                   "rf": Family.RAINFALL, "el": Family.ELEVATOR}  # fmt: skip
    site_re = re.compile(r"^(tankfarm-\d{2}|dn\d{3}-main-\d+|utiltunnel-\d+|slope-\d{2}|underpass-\d+|"
                         r"rainstation-\d{2}|bldg-\d{3})$")  # fmt: skip
    per_gateway = Counter(s.gateway_id for s in reg)
    for s in reg:
        assert id_re.match(s.sensor_id), s.sensor_id
        assert family_code[s.sensor_id[:2]] == s.family
        assert site_re.match(s.site), s.site
        assert s.area in AREAS
        assert LAT_RANGE[0] <= s.lat <= LAT_RANGE[1] and LON_RANGE[0] <= s.lon <= LON_RANGE[1]
        assert re.match(r"^gw-\d{3}$", s.gateway_id)
    assert max(per_gateway.values()) <= MAX_SENSORS_PER_GATEWAY
    # a site is one place: all its sensors sit within ~1 km of each other and share an area
    by_site: dict[str, list] = {}
    for s in reg:
        by_site.setdefault(s.site, []).append(s)
    for sensors in by_site.values():
        assert len({s.area for s in sensors}) == 1
        assert max(s.lat for s in sensors) - min(s.lat for s in sensors) < 0.01


def test_gateways_argument_groups_sites() -> None:
    reg = make_registry(300, seed=2, gateways=7)
    assert sorted({s.gateway_id for s in reg}) == [f"gw-{i:03d}" for i in range(1, 8)]
    for site in {s.site for s in reg}:  # a site is never split over gateways when it is small
        assert len({s.gateway_id for s in reg if s.site == site}) == 1


def test_params_make_rule_set_points_explicit(reg: Registry) -> None:
    gas = [s for s in reg if s.kind == "combustible_gas"]
    assert all(set(GAS_DEFAULTS) <= set(s.params) for s in gas)
    assert any(s.params["first_alarm_lel"] == 20 for s in gas), "some plants alarm below 25 %LEL"
    assert any(s.params["first_alarm_lel"] == 25 for s in gas)
    for s in reg:
        if s.kind == "pipeline_pressure":
            assert set(PIPELINE_DEFAULTS) <= set(s.params) and 200 <= s.params["nominal_kpa"] <= 400
        if s.kind == "rain_gauge":
            assert set(RAIN_DEFAULTS) <= set(s.params)
        if s.kind == "elevator_status":
            assert s.params["rated_speed_mps"] in (1.0, 1.5, 1.75, 2.5) and s.params["sustain_readings"] == 2
        if s.kind == "elevator_vibration" and "car_status_sensor" in s.params:
            car = reg.get(s.params["car_status_sensor"])
            assert car is not None and car.kind == "elevator_status" and car.site == s.site
    slides = [s for s in reg if s.kind in ("gnss_displacement", "crack_meter")]
    assert all(set(LANDSLIDE_DEFAULTS) <= set(s.params) for s in slides)
    v_bars = [s.params["v_bar_mm_per_h"] for s in slides]
    assert 0 in v_bars, "some stable-slope points with v̄ = 0"
    assert all(v == 0 or 0.5 <= v <= 2.0 for v in v_bars)


def test_deterministic_by_seed() -> None:
    a, b, c = make_registry(150, seed=11), make_registry(150, seed=11), make_registry(150, seed=12)
    assert [s.to_row() for s in a] == [s.to_row() for s in b]
    assert [s.to_row() for s in a] != [s.to_row() for s in c]


def test_csv_round_trip(tmp_path: Path, reg: Registry) -> None:
    path = tmp_path / "reg.csv"
    reg.save(path)
    back = Registry.load(path)
    assert [s.to_row() for s in back] == [s.to_row() for s in reg]
    assert back.sensors == reg.sensors


def test_example_registry_is_the_generated_one() -> None:
    """deploy/registry.example.csv = make_registry(200, seed=7): regenerate it when the generator changes."""
    example = Registry.load(EXAMPLE)
    assert 190 <= len(example) <= 210
    assert [s.to_row() for s in example] == [s.to_row() for s in make_registry(200, seed=7)]
