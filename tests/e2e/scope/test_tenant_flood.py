"""A tenant's flood of 1 MiB registry-credential Secrets, in a namespace pullpass does not serve,
leaves every enabled namespace served (issue 22, item 1).

Before the caps and the counted key set, each Secret event dropped the cluster-wide keyring,
and the next review that asked it (any pod with an image not served in its namespace) rebuilt
it from every key on the event loop: seconds per review, past the webhook's timeout, so pods
were admitted with nothing.
"""

import json
import time

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.tenant_flood import Admin, SecretFlood
from localcluster.webhook import INJECT_LABEL, Pullpass
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    create_namespace,
    docker_registry_args,
    pull_secrets,
    unique,
)
from tests.kit.metrics import metric

REGISTRY = "fresh.registry.example"
LATE = "late.registry.example"
# Served nowhere: the review asks whether any credential in the cluster serves it.
SIDECAR = "sidecar.mirror.example/agent:1"
FLOOD_SECRETS = 6
PODS = 8


def _pod(namespace: str, name: str) -> dict[str, object]:
    return objects.pod(namespace, f"{REGISTRY}/team/app:1", SIDECAR, name=name)


def _one_file(kubectl: Kubectl, passwords: Passwords, namespace: str) -> list[dict[str, object]]:
    """A brand-new enabled namespace, its own registry credential and pods, as one List."""
    args, _ = docker_registry_args(passwords, namespace, "own-reg", REGISTRY, "e2e-user")
    secret = json.loads(kubectl(*args, "--dry-run=client", "-o", "json").stdout)
    pods = [_pod(namespace, f"p{i}") for i in range(PODS)]
    return [objects.namespace(namespace, {INJECT_LABEL: "enabled"}), secret, *pods]


def test_a_secret_flood_elsewhere_leaves_new_and_old_namespaces_served(
    control_plane: ControlPlane, kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    tenant = create_namespace(kubectl, unique("flooder"), enabled=False)
    served = create_namespace(kubectl, unique("served"))
    kubectl(*docker_registry_args(passwords, served, "own-reg", REGISTRY, "e2e-user")[0])
    flood = SecretFlood(control_plane, tenant, FLOOD_SECRETS)
    flood.start()
    admin = Admin(control_plane)
    try:
        flood.wait_writes(2 * FLOOD_SECRETS, timeout=180)  # created, and each replaced once

        # During the flood, pods created one at a time in an enabled namespace: each served,
        # each quickly.
        for i in range(PODS):
            started = time.monotonic()
            status, body = admin.request(
                "POST", f"/api/v1/namespaces/{served}/pods", _pod(served, f"q{i}")
            )
            took = time.monotonic() - started
            assert status == 201, body[:300]
            assert pull_secrets(json.loads(body)) == ["own-reg"], f"pod q{i} got nothing"
            assert took < 1.5, f"pod q{i} took {took:.2f}s during the flood"
        assert flood.is_alive(), f"the flood stopped early: {flood.errors[-3:]}"

        # What was left out is said where the tenant and the admin look.
        assert metric(pullpass.metrics_text(), "pullpass_credential_keys_capped_total") > 0
        capped = eventually(
            lambda: kubectl.json(
                "get", "events", "-n", tenant, "--field-selector", "reason=CredentialKeysCapped"
            )["items"],
            30,
            "a CredentialKeysCapped Event on the tenant's Secrets",
        )
        assert {e["involvedObject"]["name"] for e in capped} <= {
            f"flood-{i}" for i in range(FLOOD_SECRETS)
        }
    finally:
        admin.close()
        flood.stop()

    # No lasting damage: the index catches up by itself, so a credential written after the
    # flood serves within seconds...
    kubectl(*docker_registry_args(passwords, served, "late-reg", LATE, "e2e-user")[0])
    eventually(
        lambda: "late-reg" in _dry_run_secrets(kubectl, objects.pod(served, f"{LATE}/app:1")),
        15,
        "a credential written after the flood to serve",
    )
    # ...and a brand-new namespace, its credential and its pods in one file are all served
    # (the apply is repeated until the ServiceAccount controller has made `default`).
    fresh = unique("fresh")
    listed = {"apiVersion": "v1", "kind": "List", "items": _one_file(kubectl, passwords, fresh)}
    deadline = time.monotonic() + 60
    while kubectl("apply", "-f", "-", input=json.dumps(listed), check=False).returncode:
        assert time.monotonic() < deadline, "the one-file apply never went through"
        time.sleep(0.5)
    got = {
        pod["metadata"]["name"]: pull_secrets(pod)
        for pod in kubectl.json("get", "pods", "-n", fresh)["items"]
    }
    assert got == {f"p{i}": ["own-reg"] for i in range(PODS)}
    kubectl("delete", "namespace", tenant, "--wait=false")


def _dry_run_secrets(kubectl: Kubectl, pod: dict[str, object]) -> list[str]:
    done = kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pod))
    return pull_secrets(json.loads(done.stdout))
