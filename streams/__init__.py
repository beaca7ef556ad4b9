"""riskstream streams."""
