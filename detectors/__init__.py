"""riskstream detectors."""
