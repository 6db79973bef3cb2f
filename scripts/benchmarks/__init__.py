"""Benchmark suites for `make bench` (one module per area)."""
