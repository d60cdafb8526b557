"""Session fixtures: a real control plane, kubectl, and `pullpass serve` registered as a webhook.

Nothing here skips: a missing binary or a failed start fails every test that uses them with the
reason and the component's log tail. Another suite reuses them from its own conftest.py:

    from tests.kit.control_plane import control_plane, kubeconfig, kubectl, passwords  # noqa: F401

(each conftest that imports them gets its own session-scoped cluster). tests/conftest.py marks
those suites `e2e` and calls `prebuild`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.build import build_control_plane, once
from localcluster.control_plane import ControlPlane
from localcluster.errors import ClusterError
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass, webhook_configuration
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    create_namespace,
    docker_registry_secret,
    dry_run_create,
    pull_secrets,
)

WEBHOOK_NAME = "pullpass"
CREDENTIALS_NAMESPACE = "pullpass-system"

# Build (or find cached) control-plane binaries once per session.
_bin_dir = once(build_control_plane)


def prebuild(session: pytest.Session) -> None:
    """Build before any `e2e` test runs, so a first (long) build eats no timeout.

    A failure is kept and raised by the `control_plane` fixture, as a failure of each test.
    """
    if any(item.get_closest_marker("e2e") for item in session.items):
        with contextlib.suppress(ClusterError):
            _bin_dir()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cluster = ControlPlane(_bin_dir(), tmp_path_factory.mktemp("cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: ControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path) -> Kubectl:
    """`kubectl(*args, input=None, check=True)` as the cluster admin."""
    return Kubectl(kubeconfig)


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    return Passwords()


@pytest.fixture(scope="session")
def pullpass(
    kubectl: Kubectl,
    kubeconfig: Path,
    passwords: Passwords,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pullpass]:
    """`pullpass serve` on loopback, registered and proven to be called by the API server."""
    create_namespace(kubectl, CREDENTIALS_NAMESPACE, enabled=False)
    server = Pullpass(
        kubeconfig,
        tmp_path_factory.mktemp("pullpass"),
        credentials_namespace=CREDENTIALS_NAMESPACE,
    )
    server.start()
    try:
        kubectl.apply(webhook_configuration(WEBHOOK_NAME, server.url, server.ca_pem))
        try:
            _wait_until_called(kubectl, passwords)
        except AssertionError as error:
            raise AssertionError(
                f"{error}\npullpass log tail:\n{server.component.tail()}"
            ) from None
        yield server
    finally:
        server.stop()


def _wait_until_called(kubectl: Kubectl, passwords: Passwords) -> None:
    """The API server picks webhook configurations up asynchronously: wait until it calls us."""
    namespace = create_namespace(kubectl, "e2e-probe")
    docker_registry_secret(kubectl, passwords, namespace, "probe", "probe.registry.example")
    pod = (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"probe","namespace":"e2e-probe"},'
        '"spec":{"containers":[{"name":"c","image":"probe.registry.example/app:1"}]}}'
    )

    def injected() -> bool:
        done = dry_run_create(kubectl, pod, check=False)
        return done.returncode == 0 and "probe" in pull_secrets(json.loads(done.stdout))

    eventually(injected, 30, "the API server to call pullpass", every=0.3)
