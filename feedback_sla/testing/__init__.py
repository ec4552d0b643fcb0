"""Builders of large data sets that the tests and the benchmarks share.

Nothing here is used by the app itself, and nothing needs more than the app's own dependencies.
"""
