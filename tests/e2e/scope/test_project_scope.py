"""A project credential reaches exactly its project's enabled namespaces, and their pods."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import (
    INJECTED,
    PROJECT,
    SCOPE,
    apply_registry_secret,
    copies,
    wait_copies,
)
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    pod_annotations,
    pull_secrets,
    unique,
)

REGISTRY = "project.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"


def test_project_credential_reaches_its_enabled_namespaces_only(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    project, other = unique("alpha"), unique("beta")
    mine = {create_namespace(kubectl, unique("proj-in"), labels={PROJECT: project}) for _ in "ab"}
    off = create_namespace(kubectl, unique("proj-off"), enabled=False, labels={PROJECT: project})
    theirs = create_namespace(kubectl, unique("proj-other"), labels={PROJECT: other})
    name = unique("team-reg")
    apply_registry_secret(
        kubectl, passwords, installation.credentials_namespace, name, REGISTRY, {PROJECT: project}
    )

    found = wait_copies(kubectl, installation.credentials_namespace, name, mine)
    # The barrier above saw a full pass: the disabled namespace and the other project got none.
    assert set(copies(kubectl, name)) == mine, "copies outside the project"
    assert off not in found
    assert theirs not in found

    for namespace in sorted(mine):
        pod = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="app"))
        assert pull_secrets(pod) == [name]
        assert pod_annotations(pod)[INJECTED] == name
    pod = apply_pod(kubectl, objects.pod(theirs, IMAGE, name="app"))
    assert pull_secrets(pod) == [], "another project's pod got the credential"


def test_namespace_then_project_then_cluster(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    """One pod, three scopes: names chosen so that sorting by name would give another order."""
    project = unique("order")
    namespace = create_namespace(kubectl, unique("order"), labels={PROJECT: project})
    home = installation.credentials_namespace
    registry = f"{project}.registry.example"
    apply_registry_secret(kubectl, passwords, namespace, "zz-own", registry)
    project_source, cluster_source = unique("mm-project"), unique("aa-cluster")
    apply_registry_secret(kubectl, passwords, home, project_source, registry, {PROJECT: project})
    apply_registry_secret(kubectl, passwords, home, cluster_source, registry, {SCOPE: "cluster"})
    try:
        wait_copies(kubectl, home, project_source, {namespace})
        eventually(
            lambda: namespace in copies(kubectl, cluster_source), 15, "the cluster copy", every=0.3
        )
        pod = apply_pod(kubectl, objects.pod(namespace, f"{registry}/app:1", name="app"))
        assert pull_secrets(pod) == ["zz-own", project_source, cluster_source]
    finally:
        # A cluster source reaches every enabled namespace of the suite: take it away again.
        kubectl("delete", "secret", cluster_source, "-n", home)
    eventually(lambda: not copies(kubectl, cluster_source), 15, "cluster copies to go", every=0.3)
