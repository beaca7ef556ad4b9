"""Pipeline throughput benchmark on the real local stack (see benchmarks/README.md)."""
