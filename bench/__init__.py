"""Benchmarks of runbook-engine against its peers; run `python bench/run.py`."""
