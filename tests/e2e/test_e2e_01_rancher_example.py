"""1. The Rancher documentation's own example, end to end through a real kube-apiserver."""

from e2e.actions import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pod_annotations,
    pod_manifest,
    pull_secrets,
)
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass


def test_rancher_example_pod_gets_testquay(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    """`kubectl create secret docker-registry testquay --docker-server=quay.io` then a bare pod."""
    namespace = create_namespace(kubectl, "e2e-rancher")
    docker_registry_secret(kubectl, passwords, namespace, "testquay", "quay.io", user="rancher")

    pod = apply_pod(kubectl, pod_manifest(namespace, "web", "quay.io/my-profile/my-image:1.0"))

    assert pull_secrets(pod) == ["testquay"]
    assert pod_annotations(pod).get("pullpass.io/injected") == "testquay"
