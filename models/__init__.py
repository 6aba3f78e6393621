"""Assure's domain: payload types, rule functions, the lifecycle state machine, SQL tables.

Everything here except ``tables`` and ``db`` is plain Python and pydantic, safe to import in
the Temporal workflow sandbox.
"""
