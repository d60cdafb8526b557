"""Scope suite: project and cluster credentials end to end, under the chart's RBAC.

Run it alone with `.venv/bin/pytest tests/e2e/scope -q` (about 90 s on two cores, its own
control plane); `-m "not e2e"` deselects it. The failover and 200-namespace figures are printed
in every run.
"""
