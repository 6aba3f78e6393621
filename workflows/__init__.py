"""Temporal workflow definitions only: deterministic, no I/O, no wall clock."""
