"""The scope suite's fixtures: the chart's RBAC applied, and pullpass under its token.

Every test gets `pullpass`: the replica "pullpass-a", started with the chart's flags and a token
of the chart's ServiceAccount, holding the Lease and serving the webhook. Tests that stop, kill
or swap replicas leave the rest to this fixture, which restores that state before the next test.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import RELEASE_NAMESPACE, Installation, chart, service_account
from tests.kit.chart import access_objects
from tests.kit.kubectl import Passwords, create_namespace


@pytest.fixture(scope="session")
def service_account_kubeconfig(
    control_plane: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The chart's RBAC and Secret-write policy applied, and a kubeconfig holding a token for
    its ServiceAccount."""
    objects = chart()
    create_namespace(kubectl, RELEASE_NAMESPACE, enabled=False)
    for obj in access_objects(objects):
        kubectl.apply(obj)
    namespace, name = service_account(objects)
    return control_plane.service_account_kubeconfig(
        kubectl, namespace, name, tmp_path_factory.mktemp("identity") / "pullpass.kubeconfig"
    )


@pytest.fixture(scope="session")
def installation(
    kubectl: Kubectl,
    service_account_kubeconfig: Path,
    passwords: Passwords,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installation]:
    setup = Installation(
        kubectl,
        service_account_kubeconfig,
        tmp_path_factory.mktemp("replicas"),
        passwords,
        chart(),
    )
    try:
        yield setup
    finally:
        setup.stop_all()


@pytest.fixture
def pullpass(installation: Installation) -> Pullpass:
    """The baseline replica, leading and serving the webhook."""
    return installation.baseline()
