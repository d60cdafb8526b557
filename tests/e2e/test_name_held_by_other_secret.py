"""A copy never takes a name held by a Secret pullpass does not manage, whatever its type."""

from e2e.actions import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    eventually,
    pod_manifest,
    pull_secrets,
)
from e2e.cluster import Kubectl
from e2e.fixtures import CREDENTIALS_NAMESPACE
from e2e.webhook import Pullpass

IMAGE = "held.registry.example/team/app:1"


def test_opaque_secret_with_a_source_name_is_a_conflict(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    project = {"pullpass.io/project": "held"}
    taken = create_namespace(kubectl, "e2e-held-taken", labels=project)
    free = create_namespace(kubectl, "e2e-held-free", labels=project)
    kubectl("create", "secret", "generic", "shared-reg", "-n", taken, "--from-literal=mine=keep-me")
    docker_registry_secret(
        kubectl, passwords, CREDENTIALS_NAMESPACE, "shared-reg", "held.registry.example"
    )
    kubectl(
        "label", "secret", "shared-reg", "-n", CREDENTIALS_NAMESPACE, "pullpass.io/project=held"
    )

    # The free namespace gets the copy and its pods the name; the taken one gets neither.
    eventually(
        lambda: kubectl("get", "secret", "shared-reg", "-n", free, check=False).returncode == 0,
        10,
        "the copy in the free namespace",
    )
    assert pull_secrets(apply_pod(kubectl, pod_manifest(free, "p", IMAGE))) == ["shared-reg"]
    assert pull_secrets(apply_pod(kubectl, pod_manifest(taken, "p", IMAGE))) == [], pullpass.logs()[
        -3000:
    ]

    def conflict_event() -> bool:
        events = kubectl.json("get", "events", "-n", taken)["items"]
        return any(
            e["reason"] == "CredentialConflict" and "shared-reg" in e["message"] for e in events
        )

    eventually(conflict_event, 10, "a CredentialConflict event")
    assert "conflict event not recorded" not in pullpass.logs()
    mine = kubectl.json("get", "secret", "shared-reg", "-n", taken)
    assert mine["type"] == "Opaque"
    assert set(mine["data"]) == {"mine"}
    assert "pullpass.io/managed-by" not in (mine["metadata"].get("labels") or {})
