"""riskstream sinks."""
