"""Where the shared NAB data lives: ``$RISKSTREAM_SHARED_DIR`` or ``shared/`` next to the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_ENV = "RISKSTREAM_SHARED_DIR"


def shared_dir() -> Path:
    override = os.environ.get(SHARED_ENV)
    return Path(override) if override else REPO.parent / "shared"


def nab_dir() -> Path:
    """The NAB subset folder (``data/``, ``labels/``, ``profiles.json``, ``results/``)."""
    return shared_dir() / "data" / "nab"
