"""pullpass runs as the chart's ServiceAccount, and what the chart does not grant is refused."""

import json

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import RELEASE_NAMESPACE, Installation, service_account


def _identity(installation: Installation) -> Kubectl:
    return Kubectl(installation.kubeconfig)


def test_replicas_run_under_a_service_account_token(
    pullpass: Pullpass, installation: Installation
) -> None:
    namespace, name = service_account(installation.objects)
    who = json.loads(_identity(installation)("auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:{name}"
    assert f"--kubeconfig={installation.kubeconfig}" in pullpass.component.argv
    config = installation.kubeconfig.read_text()
    assert "token:" in config
    assert "client-certificate" not in config
    # The Lease it leads on is one the chart's Role names.
    assert installation.holder() == installation.baseline_identity


def _can(identity: Kubectl, *args: str) -> bool:
    done = identity("auth", "can-i", *args, check=False)
    assert done.stdout.strip() in ("yes", "no"), done.stdout + done.stderr
    return done.stdout.strip() == "yes"


def test_what_pullpass_needs_is_granted(pullpass: Pullpass, installation: Installation) -> None:
    identity = _identity(installation)
    lease = f"leases.coordination.k8s.io/{installation.lease_name}"
    for args in (
        ("list", "namespaces"),
        ("watch", "namespaces"),
        ("watch", "secrets", "--all-namespaces"),
        ("create", "secrets", "-n", "default"),
        ("create", "events", "-n", "default"),
        ("update", lease, "-n", RELEASE_NAMESPACE),
        # Self-managed certificates patch the caBundle of its own webhook configuration.
        ("patch", f"mutatingwebhookconfigurations/{installation.lease_name}"),
    ):
        assert _can(identity, *args), args


def test_actions_the_chart_does_not_grant_are_refused(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation
) -> None:
    identity = _identity(installation)
    other_lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": installation.lease_name, "namespace": "default"},
        "spec": {"holderIdentity": "intruder"},
    }
    another_meta = {"name": "another-lease", "namespace": RELEASE_NAMESPACE}
    kubectl.apply({**other_lease, "metadata": another_meta})
    kubectl.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "someone-elses-webhook"},
            "webhooks": [],
        }
    )
    refused = [
        # A Lease outside the release namespace.
        (
            ("create", "leases.coordination.k8s.io", "-n", "default"),
            ("create", "-f", "-"),
            json.dumps(other_lease),
        ),
        # Another Lease in its own namespace: the Role names its one Lease.
        (
            ("update", "leases.coordination.k8s.io/another-lease", "-n", RELEASE_NAMESPACE),
            ("annotate", "lease", "another-lease", "-n", RELEASE_NAMESPACE, "taken=yes"),
            None,
        ),
        # Another MutatingWebhookConfiguration.
        (
            ("patch", "mutatingwebhookconfigurations/someone-elses-webhook"),
            (
                "patch",
                "mutatingwebhookconfiguration",
                "someone-elses-webhook",
                "--type=merge",
                "-p",
                '{"metadata":{"labels":{"owned":"yes"}}}',
            ),
            None,
        ),
        # ConfigMaps, in its own namespace or anywhere.
        (
            ("get", "configmaps", "-n", RELEASE_NAMESPACE),
            ("get", "configmaps", "-n", RELEASE_NAMESPACE),
            None,
        ),
        # Pods: listed and watched (pending ones, for detectMissing), never read one by one.
        (("get", "pods", "-n", "default"), ("get", "pod", "any", "-n", "default"), None),
        # RBAC itself: no escalation.
        (
            ("create", "clusterrolebindings"),
            (
                "create",
                "clusterrolebinding",
                "escalate",
                "--clusterrole=cluster-admin",
                f"--serviceaccount={RELEASE_NAMESPACE}:pullpass",
            ),
            None,
        ),
    ]
    for can_i, request, body in refused:
        assert not _can(identity, *can_i), f"the chart grants {can_i}"
        done = identity(*request, input=body, check=False)
        assert done.returncode != 0, f"{request} was allowed"
        assert "forbidden" in done.stderr.lower(), done.stderr
    assert kubectl("get", "leases", "-n", "default", "-o", "name").stdout.strip() == ""
    another = kubectl.json("get", "lease", "another-lease", "-n", RELEASE_NAMESPACE)
    assert "taken" not in (another["metadata"].get("annotations") or {})
