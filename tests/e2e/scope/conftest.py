"""Scope suite wiring: its own control plane, the chart's RBAC, pullpass under its token."""

from tests.e2e.scope.fixtures import installation, pullpass, service_account_kubeconfig  # noqa: F401 - fixtures are found by name
from tests.kit.control_plane import control_plane, kubeconfig, kubectl, passwords  # noqa: F401 - fixtures are found by name
