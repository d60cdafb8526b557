"""Policy-mode suite wiring: its own control plane, policy mode's objects, no webhook."""

from e2e.fixtures import (  # noqa: F401 - fixtures are found by name
    control_plane,
    kubeconfig,
    kubectl,
    passwords,
)

from e2e_policy.fixtures import policy_mode  # noqa: F401 - fixtures are found by name
