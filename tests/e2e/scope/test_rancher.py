"""The Rancher preset: Rancher's project label on namespaces, pullpass's on the source."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation, chart, scope_args
from tests.e2e.scope.sources import (
    PROJECT,
    RANCHER_PROJECT,
    apply_registry_secret,
    copies,
    wait_copies,
)
from tests.kit import objects
from tests.kit.chart import access_objects
from tests.kit.kubectl import Passwords, apply_pod, create_namespace, pull_secrets, unique

REGISTRY = "rancher.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"


def test_rancher_projects_are_pullpass_projects(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    rancher = chart({"rancher": True})
    assert "--rancher" in scope_args(rancher)
    # The preset changes flags only: the identity applied for the suite is the one it needs.
    assert access_objects(rancher) == access_objects(installation.objects)
    installation.switch("pullpass-rancher", rancher)

    home = installation.credentials_namespace
    project = "p-abcde"
    inside = create_namespace(kubectl, unique("cattle"), labels={RANCHER_PROJECT: project})
    elsewhere = create_namespace(kubectl, unique("cattle"), labels={RANCHER_PROJECT: "p-zzzzz"})
    # Under the preset pullpass's own namespace label no longer names a project.
    plain = create_namespace(kubectl, unique("plain"), labels={PROJECT: project})
    name = unique("rancher-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})

    wait_copies(kubectl, home, name, {inside})
    assert set(copies(kubectl, name)) == {inside}, (elsewhere, plain)
    assert pull_secrets(apply_pod(kubectl, objects.pod(inside, IMAGE, name="app"))) == [name]
    assert pull_secrets(apply_pod(kubectl, objects.pod(elsewhere, IMAGE, name="app"))) == []
    assert pull_secrets(apply_pod(kubectl, objects.pod(plain, IMAGE, name="app"))) == []
