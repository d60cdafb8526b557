"""Fail-open made visible, on the real API server under the chart's token and flags.

With the webhook configuration gone (as when the webhook fails open, or someone removes it), a
pod in an enabled namespace is admitted without its credential. The leader reports it: a
Warning Event `PullCredentialsMissing` on the pod and `pullpass_pods_missing_credentials_total`.
Pods that got what pullpass adds, that opted out, or that need nothing are not reported.
"""

from __future__ import annotations

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation, metric, scope_args
from tests.e2e.scope.sources import events
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
    unique,
)

REGISTRY = "missing.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"
REASON = "PullCredentialsMissing"
METRIC = "pullpass_pods_missing_credentials_total"


def test_pods_admitted_without_their_credentials_are_reported(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    assert "--detect-missing" in scope_args(installation.objects)
    namespace = create_namespace(kubectl, unique("missing"))
    docker_registry_secret(kubectl, passwords, namespace, "reg", REGISTRY)
    served = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="served"))
    assert pull_secrets(served) == ["reg"]
    before = metric(pullpass.metrics_text(), METRIC)

    kubectl("delete", "mutatingwebhookconfiguration", installation.lease_name)
    installation.webhook_target = None  # the next test's fixture registers it again
    try:
        bare = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="bare"))
        assert pull_secrets(bare) == []
        optout = objects.pod(
            namespace, IMAGE, name="opted-out", labels={"pullpass.io/inject": "disabled"}
        )
        apply_pod(kubectl, optout)
        apply_pod(kubectl, objects.pod(namespace, "docker.io/library/nginx:1", name="public"))
        found = eventually(
            lambda: events(kubectl, namespace, REASON), 15, f"a {REASON} Event", every=0.3
        )
        assert [e["involvedObject"]["name"] for e in found] == ["bare"]
        assert found[0]["type"] == "Warning"
        assert found[0]["involvedObject"]["uid"] == bare["metadata"]["uid"]
        assert "admitted without reg" in found[0]["message"]
        assert metric(pullpass.metrics_text(), METRIC) == before + 1
    finally:
        installation.route_webhook(installation.baseline_identity)
    # The pods admitted through the webhook meanwhile were never reported.
    assert [e["involvedObject"]["name"] for e in events(kubectl, namespace, REASON)] == ["bare"]
