"""Layer rule (design.md §4): nothing under detectors/ imports I/O, messaging or metrics libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = (
    "confluent_kafka",
    "aiokafka",
    "faust",
    "paho",
    "influxdb_client",
    "prometheus_client",
    "requests",
    "socket",
    "http",
)
DETECTORS = Path(__file__).resolve().parents[2] / "detectors"


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """``module (line N)`` for every import of a forbidden top-level package in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [f"{n} (line {node.lineno})" for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def detector_modules() -> list[Path]:
    return sorted(DETECTORS.rglob("*.py"))


def test_there_are_detector_modules_to_check() -> None:
    names = {p.relative_to(DETECTORS).as_posix() for p in detector_modules()}
    assert {"base.py", "engine.py", "alarm.py", "domain/rule.py"} <= names


@pytest.mark.parametrize("path", detector_modules(), ids=lambda p: p.relative_to(DETECTORS).as_posix())
def test_detector_module_has_no_io_imports(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == []


@pytest.mark.parametrize(
    ("source", "hit"),
    [
        ("import confluent_kafka", True),
        ("from paho.mqtt import client", True),
        ("import http.client as h", True),
        ("import os, socket", True),
        ("importlib.import_module('prometheus_client')", True),
        ("def f():\n    import requests\n", True),
        ("from influxdb_client.client import write_api", True),
        ("import numpy as np\nfrom riskstream.schemas import Alert", False),
        ("import httpx_like_name_is_not_http", False),
        ("from . import socket", False),  # a relative module that happens to share the name
    ],
)
def test_the_checker_itself(source: str, hit: bool) -> None:
    assert bool(forbidden_imports(source)) is hit
