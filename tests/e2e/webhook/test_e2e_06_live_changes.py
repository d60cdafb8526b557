"""6. Live changes: a credential created, changed or deleted reaches the next pod within 2s."""

import time

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
    unique,
)

DEADLINE = 2.0


def _seconds_until(kubectl: Kubectl, namespace: str, image: str, expected: list[str]) -> float:
    """Create pods (real ones, as a user would) until one stores `expected`; the elapsed time."""
    start = time.monotonic()
    seen: list[str] | None = None
    while time.monotonic() - start < DEADLINE + 3:
        pod = apply_pod(kubectl, objects.pod(namespace, image, name=unique("p")))
        seen = pull_secrets(pod)
        if seen == expected:
            return time.monotonic() - start
    raise AssertionError(f"pods still got {seen}, expected {expected}")


def test_created_changed_deleted_credential(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-live")
    quay, other = "quay.io/team/live:1", "registry.live.example/team/live:1"
    assert pull_secrets(apply_pod(kubectl, objects.pod(namespace, quay, name="first"))) == []

    # Created.
    docker_registry_secret(kubectl, passwords, namespace, "live", "quay.io")
    assert _seconds_until(kubectl, namespace, quay, ["live"]) <= DEADLINE

    # Changed: the same Secret now holds a key for another registry only.
    password = passwords.new("live-rotated")
    changed = kubectl(
        "create",
        "secret",
        "docker-registry",
        "live",
        "-n",
        namespace,
        "--docker-server=registry.live.example",
        "--docker-username=e2e-user",
        f"--docker-password={password}",
        "--dry-run=client",
        "-o",
        "yaml",
    ).stdout
    kubectl("apply", "-f", "-", input=changed)
    assert _seconds_until(kubectl, namespace, quay, []) <= DEADLINE
    assert pull_secrets(apply_pod(kubectl, objects.pod(namespace, other, name="other"))) == ["live"]

    # Deleted.
    kubectl("delete", "secret", "live", "-n", namespace)
    assert _seconds_until(kubectl, namespace, other, []) <= DEADLINE
