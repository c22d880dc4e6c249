"""Benchmarks: run each as ``python -m tests.benchmarks.<name>``."""
