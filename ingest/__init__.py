"""riskstream ingest."""
