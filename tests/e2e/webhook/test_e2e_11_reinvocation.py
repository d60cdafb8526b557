"""11. Reinvocation: a later webhook adds a container; pullpass runs again and covers it."""

from __future__ import annotations

import json

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    dry_run_create,
    pod_annotations,
    pull_secrets,
)
from tests.kit.sidecar import SELECTOR, SIDECAR_IMAGE


def test_reinvocation_adds_the_sidecars_credential_once(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords, sidecar_webhook: list[int]
) -> None:
    namespace = create_namespace(kubectl, "e2e-reinvoke", labels=SELECTOR)
    docker_registry_secret(kubectl, passwords, namespace, "app-cred", "quay.io")
    docker_registry_secret(
        kubectl, passwords, namespace, "sidecar-cred", "sidecar.registry.example"
    )

    def probe() -> bool:
        """The API server learns the new configuration asynchronously."""
        done = dry_run_create(
            kubectl, json.dumps(objects.pod(namespace, "quay.io/team/app:1", name="probe"))
        )
        return len(json.loads(done.stdout)["spec"]["containers"]) == 2

    eventually(probe, 30, "the sidecar webhook to be called", every=0.3)

    pod = apply_pod(
        kubectl, objects.pod(namespace, "quay.io/team/app:1", name="app", pull_secrets=["app-cred"])
    )

    images = [c["image"] for c in pod["spec"]["containers"]]
    assert images == ["quay.io/team/app:1", SIDECAR_IMAGE]
    # pullpass saw only the app container first (already covered); only its reinvocation can
    # have added the sidecar's credential.
    assert pull_secrets(pod) == ["app-cred", "sidecar-cred"]
    assert "sidecar-cred" in pod_annotations(pod).get("pullpass.io/injected", "")
    assert sidecar_webhook, "the sidecar webhook was never called"
