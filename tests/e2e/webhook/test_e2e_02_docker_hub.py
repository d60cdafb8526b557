"""2. Docker Hub: kubectl's default server key serves every spelling of a Docker Hub image."""

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


@pytest.fixture(scope="module")
def hub_namespace(kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords) -> str:
    namespace = create_namespace(kubectl, "e2e-hub")
    # No --docker-server: kubectl writes https://index.docker.io/v1/ as the key.
    docker_registry_secret(kubectl, passwords, namespace, "hub")
    secret = kubectl.json("get", "secret", "hub", "-n", namespace)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    return namespace


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("short", "nginx"),
        ("library", "library/nginx:1.27"),
        ("full", "docker.io/x/y"),
        ("index", "index.docker.io/team/tool@sha256:" + "a" * 64),
    ],
)
def test_docker_hub_images_get_the_default_key(
    kubectl: Kubectl, hub_namespace: str, name: str, image: str
) -> None:
    pod = apply_pod(kubectl, objects.pod(hub_namespace, image, name=name))
    assert pull_secrets(pod) == ["hub"], image


def test_other_registries_do_not_get_the_docker_hub_key(
    kubectl: Kubectl, hub_namespace: str
) -> None:
    pod = apply_pod(kubectl, objects.pod(hub_namespace, "quay.io/x/y:1", name="quay"))
    assert pull_secrets(pod) == []
