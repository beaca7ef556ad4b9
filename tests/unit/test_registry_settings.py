"""Sensor registry CSV and settings: round trips and clear errors."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from riskstream.registry import Registry, RegistryError, Sensor
from riskstream.schemas import Family
from riskstream.settings import load_settings

HEADER = "sensor_id,family,kind,site,area,lat,lon,gateway_id,unit,params\n"


def test_registry_round_trip(tmp_path: Path) -> None:
    reg = Registry(
        [
            Sensor(
                "g1",
                Family.HAZCHEM,
                "combustible_gas",
                "tank farm, 3",
                "north",
                29.7,
                106.6,
                "gw-1",
                "%LEL",
                {"first_alarm_lel": 20},
            ),
            Sensor(
                "e1", Family.ELEVATOR, "elevator_status", "bldg-1", "north", 29.7, 106.6, "gw-2", "mixed", {}
            ),
        ]
    )
    path = tmp_path / "r.csv"
    reg.save(path)
    back = Registry.load(path)
    assert [s.sensor_id for s in back] == ["g1", "e1"]
    assert back.get("g1").params == {"first_alarm_lel": 20}
    assert back.get("g1").site == "tank farm, 3"
    assert back.rows_of_kind("elevator_status").tolist() == [1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a,nope,combustible_gas,s,a,1,1,g,u,{}", "unknown family"),
        ("a,hazchem,rain_gauge,s,a,1,1,g,u,{}", "belongs to family"),
        ("a,hazchem,nokind,s,a,1,1,g,u,{}", "unknown sensor kind"),
        ("a,hazchem,combustible_gas,s,a,x,1,g,u,{}", "lat/lon"),
        ('a,hazchem,combustible_gas,s,a,1,1,g,u,"[1]"', "JSON object"),
    ],
)
def test_registry_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(HEADER + line + "\n")
    with pytest.raises(RegistryError, match=message) as info:
        Registry.load(path)
    assert ":2" in str(info.value)


def test_duplicate_sensor_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "a,hazchem,combustible_gas,s,a,1,1,g,u,{}\n" * 2)
    with pytest.raises(RegistryError, match="duplicate"):
        Registry.load(path)


def test_settings_file_env_and_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[mqtt]\nport = 2000\npassword = "s3cret"\n')
    s = load_settings(cfg)
    assert s.mqtt.port == 2000
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.mqtt)
    assert s.mqtt.password.get_secret_value() == "s3cret"
    monkeypatch.setenv("RISKSTREAM_MQTT__PORT", "2001")
    assert load_settings(cfg).mqtt.port == 2001


def test_settings_reject_unknown_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "rs.toml"
    cfg.write_text("[mqtt]\nprot = 1\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(cfg)


def test_missing_settings_file() -> None:
    with pytest.raises(FileNotFoundError):
        load_settings("/nonexistent/riskstream.toml")


def test_cli_reports_config_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from riskstream.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[mqtt]\nport = "x"\n')
    assert main(["detect", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "mqtt.port" in err and "Traceback" not in err
    assert main(["detect", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
