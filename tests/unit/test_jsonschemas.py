"""The JSON Schema files shipped to downstream teams must match the models."""

from pathlib import Path

from riskstream.jsonschemas import SCHEMA_FILES, stale

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_schema_files_are_current() -> None:
    assert stale(SCHEMAS) == [], "run `riskstream schemas` and commit docs/schemas"


def test_every_wire_model_has_a_schema_file() -> None:
    assert {"reading.v1.schema.json", "alert.v1.schema.json"} <= set(SCHEMA_FILES)
