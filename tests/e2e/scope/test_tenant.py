"""A tenant cannot push a credential into other tenants' namespaces with source labels."""

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import PROJECT, SCOPE, apply_registry_secret, copies, wait_copies
from tests.kit import objects
from tests.kit.kubectl import Passwords, apply_pod, create_namespace, pull_secrets, unique

REGISTRY = "tenant.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"
IGNORED = "source labels ignored outside the credentials namespace"


def _tenant(control_plane: ControlPlane, kubectl: Kubectl, namespace: str) -> Kubectl:
    """A user who administers one namespace (the built-in `admin` role there), nothing more."""
    user = f"tenant-{namespace}"
    kubectl(
        "create", "rolebinding", "tenant", "-n", namespace, "--clusterrole=admin", f"--user={user}"
    )
    return Kubectl(control_plane.client_kubeconfig(user, namespace=namespace))


def test_source_labels_outside_the_credentials_namespace_are_ignored(
    control_plane: ControlPlane,
    kubectl: Kubectl,
    pullpass: Pullpass,
    installation: Installation,
    passwords: Passwords,
) -> None:
    home = installation.credentials_namespace
    mine, victims = unique("mine"), unique("victims")
    own = create_namespace(kubectl, unique("tenant"), labels={PROJECT: mine})
    victim = create_namespace(kubectl, unique("victim"), labels={PROJECT: victims})
    tenant = _tenant(control_plane, kubectl, own)

    # The tenant cannot write the credentials namespace, so they try their own.
    denied = tenant(
        "create", "secret", "generic", "x", "-n", home, "--from-literal=a=b", check=False
    )
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower(), denied.stderr
    to_project, to_cluster = unique("push-project"), unique("push-cluster")
    apply_registry_secret(tenant, passwords, own, to_project, REGISTRY, {PROJECT: victims})
    apply_registry_secret(tenant, passwords, own, to_cluster, REGISTRY, {SCOPE: "cluster"})

    # A real source for the victims' project is the barrier: once its copy is in, the
    # replicator has seen the tenant's Secrets and decided about them.
    real = unique("real-reg")
    apply_registry_secret(kubectl, passwords, home, real, REGISTRY, {PROJECT: victims})
    wait_copies(kubectl, home, real, {victim})
    assert copies(kubectl, to_project) == {}, "a tenant's Secret was copied as a project source"
    assert copies(kubectl, to_cluster) == {}, "a tenant's Secret was copied as a cluster source"
    assert pull_secrets(apply_pod(kubectl, objects.pod(victim, IMAGE, name="app"))) == [real]
    # In their own namespace they are ordinary namespace credentials.
    own_pod = apply_pod(kubectl, objects.pod(own, IMAGE, name="app"))
    assert pull_secrets(own_pod) == sorted([to_project, to_cluster])

    # Logged once per Secret, however often it changes.
    tenant("annotate", "secret", to_project, "-n", own, "touched=1")
    tenant("annotate", "secret", to_project, "-n", own, "touched=2", "--overwrite")
    apply_registry_secret(kubectl, passwords, home, real, REGISTRY, {PROJECT: victims})
    wait_copies(kubectl, home, real, {victim})
    lines = [line for line in pullpass.logs().splitlines() if IGNORED in line]
    for name in (to_project, to_cluster):
        assert sum(f"{own}/{name}" in line for line in lines) == 1, lines
