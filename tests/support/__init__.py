"""Shared setup for the tests (and the benchmarks that reuse it): one module per area."""
