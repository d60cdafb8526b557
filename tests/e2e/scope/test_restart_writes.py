"""A replica that takes the Lease over copies already in sync writes no Secret at all.

Counted by the API server itself (`apiserver_request_total` on its /metrics, as admin): every
create, update, patch or delete of a Secret in the cluster between the old leader's end and the
new leader's first full pass. Once for the same replica restarted, once for another taking over.
"""

import time

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation, copy_writes
from tests.e2e.scope.sources import PROJECT, apply_registry_secret, wait_copies
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, create_namespace, unique
from tests.kit.metrics import metric

REGISTRY = "churn.registry.example"


def secret_writes(control_plane: ControlPlane) -> float:
    return control_plane.request_count("secrets")


def in_sync(replica: Pullpass) -> float:
    return metric(replica.metrics_text(), "pullpass_copies", state="in_sync")


def settled(kubectl: Kubectl) -> bool:
    """No namespace is being deleted: a copy due there could not be written, only tried."""
    phases = kubectl("get", "namespaces", "-o", "jsonpath={.items[*].status.phase}").stdout
    return "Terminating" not in phases


def test_a_restart_or_failover_with_every_copy_in_sync_writes_no_secret(
    kubectl: Kubectl,
    control_plane: ControlPlane,
    pullpass: Pullpass,
    installation: Installation,
    passwords: Passwords,
) -> None:
    home = installation.credentials_namespace
    project = unique("churn")
    namespaces = {create_namespace(kubectl, unique("churn"), labels={PROJECT: project})}
    namespaces |= {create_namespace(kubectl, unique("churn"), labels={PROJECT: project})}
    names = [unique("churn-reg") for _ in range(3)]
    first = secret_writes(control_plane)
    for name in names:
        apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    for name in names:
        wait_copies(kubectl, home, name, namespaces)
    eventually(lambda: settled(kubectl), 60, "no namespace terminating", every=0.5)
    eventually(lambda: in_sync(pullpass) >= len(names) * len(namespaces), 15, "a full pass")
    copies = in_sync(pullpass)
    # The counter sees writes: the sources and their first copies are among them.
    assert secret_writes(control_plane) - first >= len(names) * (1 + len(namespaces))
    time.sleep(1)  # the last watch events of those writes land before counting

    identity = installation.baseline_identity

    def take_over(successor: str) -> None:
        """Kill the leader; `successor` (itself restarted, or a standby) takes the Lease."""
        before = secret_writes(control_plane)
        installation.kill(identity)
        replica = installation.replicas.get(successor)
        if replica is None or not replica.running():
            replica = installation.start(successor)
        installation.wait_leader(successor)
        try:
            eventually(lambda: in_sync(replica) == copies, 15, f"{successor}'s first full pass")
        except AssertionError as error:
            tail = replica.component.tail(20)
            raise AssertionError(f"{error}: {in_sync(replica)} of {copies}\n{tail}") from None
        time.sleep(2)  # a write would come right after the pass that planned it
        writes = secret_writes(control_plane) - before
        print(f"\n{successor} took the Lease over {copies:.0f} copies in sync: {writes:.0f} writes")
        assert copy_writes(replica.logs()) == [], f"{successor} logged copy writes"
        assert writes == 0, f"{writes:.0f} Secret writes after {successor} took the Lease"

    take_over(identity)  # the same replica, restarted: it takes its own Lease at once
    installation.start("pullpass-b")  # a standby while pullpass-a leads
    take_over("pullpass-b")  # a new leader, once the Lease expires
