"""riskstream simulators."""
