"""Chart suite wiring: the shared fixtures, with a control plane of its own."""

from e2e.fixtures import (  # noqa: F401 - fixtures are found by name
    control_plane,
    kubeconfig,
    kubectl,
    passwords,
)
