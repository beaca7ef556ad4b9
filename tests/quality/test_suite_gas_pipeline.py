"""Gas-pipeline scenario suite (simulators/suites/gas_pipeline.py): what only this family has - clean
runs with real hard negatives (sewer biogas, morning demand sags). The checks every suite shares (levels
per rule, recall and precision ≥ 0.95 per rule, silent clean runs, determinism) are in
tests/quality/test_suites.py."""

from __future__ import annotations

import numpy as np

from simulators.suites import gas_pipeline as suite


def test_clean_runs_hold_real_hard_negatives() -> None:
    """Sewer biogas that would be yellow in a valve well; daytime sags of over 5 % of the set point."""
    wells = suite.methane_run(11, incidents=False)
    sewer = [i for i, s in enumerate(wells.registry.sensors) if s.params.get("well_type") == "sewer"]
    biogas = wells.values[np.isin(wells.rows, sewer), 0]
    assert biogas.max() > 18.0
    day = suite.pressure_day_run(11, incidents=False)
    nominal = np.array([s.params["nominal_kpa"] for s in day.registry.sensors])
    deviation = day.values[:, 0] / nominal[day.rows] - 1.0
    assert deviation.min() < -0.05
