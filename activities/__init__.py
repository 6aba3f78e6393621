"""Activities: every side effect of a workflow (store projection, outbox; email comes next)."""
