"""Benchmarks: scripts that print tables (run them with python bench/<name>.py); importable by the tests."""
