"""4. Existing pull secrets are kept, never duplicated; ServiceAccount ones coexist."""

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
)

IMAGE = "quay.io/team/app:3"


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords) -> str:
    name = create_namespace(kubectl, "e2e-existing")
    docker_registry_secret(kubectl, passwords, name, "testquay", "quay.io")
    docker_registry_secret(kubectl, passwords, name, "ghcr", "ghcr.io")
    return name


def test_listed_secrets_are_kept_in_order_and_not_duplicated(
    kubectl: Kubectl, namespace: str
) -> None:
    pod = apply_pod(
        kubectl,
        objects.pod(namespace, IMAGE, name="listed", pull_secrets=["hand-made", "testquay"]),
    )
    assert pull_secrets(pod) == ["hand-made", "testquay"]


def test_missing_secret_is_appended_after_the_users_own(kubectl: Kubectl, namespace: str) -> None:
    pod = apply_pod(
        kubectl,
        objects.pod(namespace, IMAGE, "ghcr.io/org/tool:1", name="appended", pull_secrets=["mine"]),
    )
    assert pull_secrets(pod) == ["mine", "ghcr", "testquay"]


def test_service_account_pull_secrets_coexist(kubectl: Kubectl, namespace: str) -> None:
    """The built-in ServiceAccount admission runs first; pullpass appends after its entries."""
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "builder", "namespace": namespace},
            "imagePullSecrets": [{"name": "sa-pull"}],
        }
    )
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "quay-user", "namespace": namespace},
            "imagePullSecrets": [{"name": "testquay"}],
        }
    )

    with_sa = apply_pod(
        kubectl, objects.pod(namespace, IMAGE, name="sa", service_account="builder")
    )
    same = apply_pod(
        kubectl, objects.pod(namespace, IMAGE, name="same", service_account="quay-user")
    )

    assert pull_secrets(with_sa) == ["sa-pull", "testquay"]
    assert pull_secrets(same) == ["testquay"]
