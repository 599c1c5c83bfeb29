"""Benchmarks: each figure beside a baseline measured in the same run, as a ratio with a target.

`./scripts/bench` runs them all (or those named) on PostgreSQL, prints one table and writes
`bench.json`. Nothing here is a test: the suite never asserts a duration.
"""
