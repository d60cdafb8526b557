"""A user's own Secret that holds a source's name is never touched; the conflict is visible."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import (
    MANAGED_BY,
    PROJECT,
    apply_registry_secret,
    conflict_events,
    get_secret,
    wait_copies,
)
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, create_namespace, unique
from tests.kit.metrics import metric

REGISTRY = "conflict.registry.example"


def test_users_secret_with_the_same_name_is_never_overwritten(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    project = unique("conflict")
    taken = create_namespace(kubectl, unique("taken"), labels={PROJECT: project})
    free = create_namespace(kubectl, unique("free"), labels={PROJECT: project})
    name = unique("team-reg")
    # The user's own registry credential, same name, another registry and password.
    apply_registry_secret(kubectl, passwords, taken, name, "own.registry.example", user="owner")
    mine = get_secret(kubectl, taken, name)
    assert mine is not None
    conflicts_before = metric(pullpass.metrics_text(), "pullpass_copy_conflicts_total")

    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    wait_copies(kubectl, home, name, {free})

    found = eventually(
        lambda: conflict_events(kubectl, taken, name), 15, "a CredentialConflict event", every=0.3
    )
    event = found[0]
    assert event["type"] == "Warning"
    assert event["involvedObject"]["kind"] == "Secret"
    assert event["involvedObject"]["name"] == name
    assert metric(pullpass.metrics_text(), "pullpass_copy_conflicts_total") > conflicts_before
    assert any('"copy conflict"' in line and taken in line for line in pullpass.logs().splitlines())

    # Rotation and deletion of the source do not touch it either.
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    wait_copies(kubectl, home, name, {free})
    kubectl("delete", "secret", name, "-n", home)
    eventually(lambda: get_secret(kubectl, free, name) is None, 15, "the free copy to go")
    still = get_secret(kubectl, taken, name)
    assert still is not None, "the user's Secret was deleted"
    assert still["metadata"]["uid"] == mine["metadata"]["uid"]
    assert still["metadata"]["resourceVersion"] == mine["metadata"]["resourceVersion"]
    assert still["data"] == mine["data"]
    assert MANAGED_BY not in (still["metadata"].get("labels") or {})


def test_copy_is_written_once_the_user_frees_the_name(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    project = unique("freed")
    namespace = create_namespace(kubectl, unique("freed"), labels={PROJECT: project})
    name = unique("freed-reg")
    kubectl("create", "secret", "generic", name, "-n", namespace, "--from-literal=k=v")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    eventually(
        lambda: conflict_events(kubectl, namespace, name),
        15,
        "a CredentialConflict event",
        every=0.3,
    )
    mine = get_secret(kubectl, namespace, name)
    assert mine is not None
    assert mine["type"] == "Opaque"

    kubectl("delete", "secret", name, "-n", namespace)
    wait_copies(kubectl, home, name, {namespace})
