"""JSON Schema files for downstream teams, generated from the wire models (docs/schemas/)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from riskstream.schemas import Alert, BatchPayload, DeadLetter, OperatorAction, Reading

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "reading.v1.schema.json": Reading,
    "batch-payload.v1.schema.json": BatchPayload,
    "alert.v1.schema.json": Alert,
    "deadletter.v1.schema.json": DeadLetter,
    "operator-action.v1.schema.json": OperatorAction,
}


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_FILES.items():
        path = directory / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from what the models generate now."""
    out = []
    for name, model in SCHEMA_FILES.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(model):
            out.append(name)
    return out
