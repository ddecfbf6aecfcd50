"""Benchmarks of cfxstore and their drivers, run from a source checkout (``python -m bench.orm``, ...).

Not installed: see docs/performance.md for each command and the figures it produced.
"""
