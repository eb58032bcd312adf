"""Benchmarks, certification and reports. Speed is measured here, never in tests."""
