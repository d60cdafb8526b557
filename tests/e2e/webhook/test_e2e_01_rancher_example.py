"""1. The Rancher documentation's own example, end to end through a real kube-apiserver."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pod_annotations,
    pull_secrets,
)


def test_rancher_example_pod_gets_testquay(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    """`kubectl create secret docker-registry testquay --docker-server=quay.io` then a bare pod."""
    namespace = create_namespace(kubectl, "e2e-rancher")
    docker_registry_secret(kubectl, passwords, namespace, "testquay", "quay.io", user="rancher")

    pod = apply_pod(kubectl, objects.pod(namespace, "quay.io/my-profile/my-image:1.0", name="web"))

    assert pull_secrets(pod) == ["testquay"]
    assert pod_annotations(pod).get("pullpass.io/injected") == "testquay"
