"""A new namespace's first pod gets its project credential's name before the copy exists."""

import time

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import LEASE_DURATION, Installation
from tests.e2e.scope.sources import (
    INJECTED,
    PROJECT,
    apply_registry_secret,
    get_secret,
    wait_copies,
)
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    pod_annotations,
    pull_secrets,
    unique,
)

REGISTRY = "first.registry.example"


def test_first_pod_references_a_copy_that_is_due(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    home = installation.credentials_namespace
    project = unique("first")
    name = unique("first-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})

    # While someone else holds the Lease, no replica writes: the copy stays due, not written.
    with installation.lease_held_elsewhere():
        namespace = create_namespace(kubectl, unique("first"), labels={PROJECT: project})
        pod = apply_pod(kubectl, objects.pod(namespace, f"{REGISTRY}/app:1", name="first"))
        assert get_secret(kubectl, namespace, name) is None, "the copy was already written"
        assert pull_secrets(pod) == [name]
        assert pod_annotations(pod)[INJECTED] == name
        time.sleep(1)
        assert get_secret(kubectl, namespace, name) is None, "written without the Lease"

    # Once the Lease is free again the leader writes it: the pod's reference resolves.
    wait_copies(kubectl, home, name, {namespace}, timeout=3 * LEASE_DURATION)
