"""Benchmarks of agent-memory: evidence recall of the served context, and speed at scale.

Run ``python -m benchmarks.run --quick`` (see ``docs/BENCHMARKS.md``). Nothing here is imported
by the library; the data sets are read from ``../shared/data`` and never shipped.
"""
