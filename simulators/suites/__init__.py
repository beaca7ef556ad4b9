"""Labelled scenario suites per sensor family, scored by simulators.suites.harness."""
