"""End-to-end suite wiring: the shared fixtures, a real control plane and pullpass."""

from tests.kit.control_plane import control_plane, kubeconfig, kubectl, passwords, pullpass  # noqa: F401 - fixtures are found by name
from tests.kit.sidecar import sidecar_webhook  # noqa: F401 - fixtures are found by name
