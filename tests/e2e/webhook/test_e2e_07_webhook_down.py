"""7. Webhook down: pods are still admitted (fail-open); after a restart injection resumes."""

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


def test_fail_open_then_resume(kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords) -> None:
    namespace = create_namespace(kubectl, "e2e-down")
    docker_registry_secret(kubectl, passwords, namespace, "testquay", "quay.io")
    image = "quay.io/team/down:1"
    assert pull_secrets(apply_pod(kubectl, objects.pod(namespace, image, name="up"))) == [
        "testquay"
    ]

    pullpass.stop()
    try:
        assert pullpass.readyz() == 0, "pullpass still answers after stop"
        admitted = apply_pod(kubectl, objects.pod(namespace, image, name="while-down"))
        assert pull_secrets(admitted) == [], "admitted without pullpass, so nothing injected"
    finally:
        pullpass.start()

    resumed = apply_pod(kubectl, objects.pod(namespace, image, name="after-restart"))
    assert pull_secrets(resumed) == ["testquay"]
