"""The Lambda control plane: the function store (functions, versions, aliases), its persistence and
encryption at rest, and the management operations (Lambda API Reference)."""
