"""Chart suite wiring: the shared fixtures, with a control plane of its own."""

from tests.kit.control_plane import control_plane, kubeconfig, kubectl, passwords  # noqa: F401 - fixtures are found by name
