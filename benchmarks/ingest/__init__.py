"""Ingest decode benchmark: batch TypeAdapter path vs one model per reading (see benchmarks/README.md)."""
