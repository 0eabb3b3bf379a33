"""Benchmark suite: accuracy, latency and memory of the zoo's models."""
