"""7. Webhook down: pods are still admitted (fail-open); after a restart injection resumes."""

from e2e.actions import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pod_manifest,
    pull_secrets,
)
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass


def test_fail_open_then_resume(kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords) -> None:
    namespace = create_namespace(kubectl, "e2e-down")
    docker_registry_secret(kubectl, passwords, namespace, "testquay", "quay.io")
    image = "quay.io/team/down:1"
    assert pull_secrets(apply_pod(kubectl, pod_manifest(namespace, "up", image))) == ["testquay"]

    pullpass.stop()
    try:
        assert pullpass.readyz() == 0, "pullpass still answers after stop"
        admitted = apply_pod(kubectl, pod_manifest(namespace, "while-down", image))
        assert pull_secrets(admitted) == [], "admitted without pullpass, so nothing injected"
    finally:
        pullpass.start()

    resumed = apply_pod(kubectl, pod_manifest(namespace, "after-restart", image))
    assert pull_secrets(resumed) == ["testquay"]
