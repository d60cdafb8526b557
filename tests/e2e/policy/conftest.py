"""Policy-mode suite wiring: its own control plane, policy mode's objects, no webhook."""

from tests.e2e.policy.fixtures import policy_mode  # noqa: F401 - fixtures are found by name
from tests.kit.control_plane import control_plane, kubeconfig, kubectl, passwords  # noqa: F401 - fixtures are found by name
from tests.kit.sidecar import sidecar_webhook  # noqa: F401 - fixtures are found by name
