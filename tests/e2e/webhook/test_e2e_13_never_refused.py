"""13. pullpass never makes the API server refuse a pod that it would admit without pullpass.

Each case is a pod the real API server admits on its own; with pullpass it must still be admitted
(with what pullpass may add, and a warning for what it may not).
"""

import json
from typing import Any

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    as_json,
    create_namespace,
    docker_registry_secret,
    dry_run_create,
    pod_annotations,
    pull_secrets,
)

QUAY = "quay.io/team/app:1"
GHCR = "ghcr.io/org/tool:2"
ENFORCE = "kubernetes.io/enforce-mountable-secrets"


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords) -> str:
    name = create_namespace(kubectl, "e2e-refusal")
    docker_registry_secret(kubectl, passwords, name, "allowed", "quay.io")
    docker_registry_secret(kubectl, passwords, name, "other", "ghcr.io")
    return name


def create(kubectl: Kubectl, manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`kubectl create` (no last-applied annotation): the stored pod and the warnings."""
    done = kubectl("create", "-o", "json", "-f", "-", input=as_json(manifest))
    warnings = [line for line in done.stderr.splitlines() if line.startswith("Warning:")]
    return json.loads(done.stdout), warnings


def service_account(kubectl: Kubectl, namespace: str, name: str, *pull: str) -> None:
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "annotations": {ENFORCE: "true"}},
            "imagePullSecrets": [{"name": n} for n in pull],
        }
    )


def dry_run(kubectl: Kubectl, manifest: dict[str, Any]) -> tuple[list[str] | None, str]:
    """What a server-side dry run stores (None when refused), and its stderr."""
    done = dry_run_create(kubectl, as_json(manifest), check=False)
    stored = pull_secrets(json.loads(done.stdout)) if done.returncode == 0 else None
    return stored, done.stderr


def test_a_strict_service_account_pod_is_admitted_with_a_warning(
    kubectl: Kubectl, namespace: str
) -> None:
    """Without the fix the API server answers: imagePullSecrets[1].name="other" is not allowed."""
    service_account(kubectl, namespace, "strict", "allowed")
    manifest = objects.pod(
        namespace, QUAY, GHCR, name="strict-pod", pull_secrets=["allowed"], service_account="strict"
    )
    # Until pullpass's watch has seen the new ServiceAccount it adds nothing: wait for that.
    eventually(
        lambda: "ServiceAccount strict does not list other" in dry_run(kubectl, manifest)[1],
        20,
        "pullpass to warn about the ServiceAccount",
        every=0.3,
    )

    stored, warnings = create(kubectl, manifest)

    assert pull_secrets(stored) == ["allowed"]
    assert any("ServiceAccount strict" in w and "other" in w for w in warnings), warnings


def test_a_strict_service_account_still_gets_what_it_lists(
    kubectl: Kubectl, namespace: str
) -> None:
    service_account(kubectl, namespace, "lister", "allowed", "other")
    manifest = objects.pod(
        namespace, QUAY, GHCR, name="lister-pod", pull_secrets=["allowed"], service_account="lister"
    )
    eventually(
        lambda: dry_run(kubectl, manifest)[0] == ["allowed", "other"],
        20,
        "pullpass to add the listed credential",
        every=0.3,
    )
    stored, warnings = create(kubectl, manifest)
    assert pull_secrets(stored) == ["allowed", "other"]
    assert not [w for w in warnings if "pullpass" in w]


def test_a_mirror_pod_is_admitted_untouched(kubectl: Kubectl, namespace: str) -> None:
    """The API server refuses a mirror pod (a static pod's copy) that names any Secret."""
    kubectl.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "e2e-static-node"}})
    manifest = objects.pod(namespace, QUAY, name="mirror-pod")
    manifest["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "e2e"}
    manifest["spec"]["nodeName"] = "e2e-static-node"

    stored, _ = create(kubectl, manifest)

    assert pull_secrets(stored) == []


def test_annotations_at_the_size_limit_keep_the_pod_admitted(
    kubectl: Kubectl, namespace: str
) -> None:
    """Without the fix: annotations size 262147 is larger than limit 262144."""
    manifest = objects.pod(namespace, QUAY, name="full-pod")
    manifest["metadata"]["annotations"] = {"big": "x" * (256 * 1024 - len("big") - 10)}

    stored, warnings = create(kubectl, manifest)

    assert pull_secrets(stored) == ["allowed"]
    assert "pullpass.io/injected" not in pod_annotations(stored)
    assert any("256 KiB" in w for w in warnings), warnings


def test_null_annotations_and_an_empty_pull_secret_entry(kubectl: Kubectl, namespace: str) -> None:
    manifest = objects.pod(namespace, QUAY, GHCR, name="odd-pod")
    manifest["metadata"]["annotations"] = None
    manifest["spec"]["imagePullSecrets"] = [{}]

    stored, _ = create(kubectl, manifest)

    assert [ref.get("name") for ref in stored["spec"]["imagePullSecrets"]] == [
        None,
        "allowed",
        "other",
    ]
    assert pod_annotations(stored)["pullpass.io/injected"] == "allowed,other"
