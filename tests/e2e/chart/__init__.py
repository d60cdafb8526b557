"""Chart suite: the rendered chart on the real API server, and self-managed certificates end to end.

Run it alone with `.venv/bin/pytest tests/e2e/chart -q` (its own control plane); `-m "not e2e"`
deselects it.
"""
