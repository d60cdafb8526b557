"""Copies follow their namespace (project moves, opt-out) and their source (rotation, deletion)."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import (
    PROJECT,
    apply_registry_secret,
    copies,
    get_secret,
    wait_copies,
    wait_no_copies,
)
from tests.kit import objects
from tests.kit.kubectl import Passwords, apply_pod, create_namespace, pull_secrets, unique

REGISTRY = "moves.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"


def test_namespace_moving_to_another_project_swaps_its_copies(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    old, new = unique("old"), unique("new")
    mover = create_namespace(kubectl, unique("mover"), labels={PROJECT: old})
    stayer = create_namespace(kubectl, unique("stayer"), labels={PROJECT: old})
    old_source, new_source = unique("old-reg"), unique("new-reg")
    apply_registry_secret(kubectl, passwords, home, old_source, REGISTRY, {PROJECT: old})
    apply_registry_secret(kubectl, passwords, home, new_source, REGISTRY, {PROJECT: new})
    wait_copies(kubectl, home, old_source, {mover, stayer})
    assert not copies(kubectl, new_source)

    kubectl("label", "namespace", mover, f"{PROJECT}={new}", "--overwrite")
    wait_copies(kubectl, home, new_source, {mover})
    wait_copies(kubectl, home, old_source, {stayer})
    assert pull_secrets(apply_pod(kubectl, objects.pod(mover, IMAGE, name="app"))) == [new_source]


def test_disabled_namespace_loses_its_copies(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    project = unique("optout")
    leaving = create_namespace(kubectl, unique("leaving"), labels={PROJECT: project})
    staying = create_namespace(kubectl, unique("staying"), labels={PROJECT: project})
    name = unique("optout-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    wait_copies(kubectl, home, name, {leaving, staying})

    kubectl("label", "namespace", leaving, "pullpass.io/inject-")
    wait_copies(kubectl, home, name, {staying})
    assert get_secret(kubectl, leaving, name) is None


def test_rotation_updates_every_copy_and_deletion_removes_them(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    project = unique("rotate")
    namespaces = {
        create_namespace(kubectl, unique("rot"), labels={PROJECT: project}) for _ in "abc"
    }
    name = unique("rot-reg")
    first = apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    before = wait_copies(kubectl, home, name, namespaces)

    second = apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    assert first != second
    source = get_secret(kubectl, home, name)
    assert source is not None
    after = wait_copies(kubectl, home, name, namespaces)  # data and source-version of the new one
    for namespace, copy in after.items():
        assert copy["data"] == source["data"]
        assert copy["data"] != before[namespace]["data"], "copy still holds the old password"
        # The same Secret updated in place, not a new one: pods that mount it keep working.
        assert copy["metadata"]["uid"] == before[namespace]["metadata"]["uid"]

    kubectl("delete", "secret", name, "-n", home)
    wait_no_copies(kubectl, name, namespaces)
    assert not copies(kubectl, name)


def test_relabelled_source_moves_its_copies(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    first, second = unique("first"), unique("second")
    in_first = create_namespace(kubectl, unique("relabel"), labels={PROJECT: first})
    in_second = create_namespace(kubectl, unique("relabel"), labels={PROJECT: second})
    name = unique("relabel-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: first})
    wait_copies(kubectl, home, name, {in_first})

    kubectl("label", "secret", name, "-n", home, f"{PROJECT}={second}", "--overwrite")
    wait_copies(kubectl, home, name, {in_second})
    kubectl("label", "secret", name, "-n", home, f"{PROJECT}-")
    wait_no_copies(kubectl, name, {in_first, in_second})
    assert get_secret(kubectl, home, name) is not None, "the source itself was touched"
