"""Scope suite wiring: its own control plane, the chart's RBAC, pullpass under its token."""

from e2e.fixtures import (  # noqa: F401 - fixtures are found by name
    control_plane,
    kubeconfig,
    kubectl,
    passwords,
)

from e2e_scope.fixtures import (  # noqa: F401 - fixtures are found by name
    installation,
    pullpass,
    service_account_kubeconfig,
)
