"""End-to-end suite wiring: the shared fixtures, a real control plane and pullpass."""

from e2e.fixtures import (  # noqa: F401 - fixtures are found by name
    control_plane,
    kubeconfig,
    kubectl,
    passwords,
    pullpass,
)
