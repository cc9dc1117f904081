"""Benchmarks: scripts that print medians and ratios, not tests."""
