"""Detection engine throughput benchmark (see benchmarks/README.md)."""
