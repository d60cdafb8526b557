"""The rendered chart passes `kubectl apply --dry-run=server` on the real API server.

A server-side dry run goes through everything a real install does short of storing: decoding,
strict field validation (`--validate=strict`: an unknown field is an error, not a warning),
defaulting, each kind's validation (webhook configuration, RBAC, PDB, NetworkPolicy, Deployment
with its pod template) and admission, including PodSecurity. The release namespace is labelled
`restricted` for enforce and warn, so the chart's security context is checked by the API server,
not by a reading of the YAML. Optional kinds are checked against the upstream CRDs, pinned
(`scripts/crds`, `crds.py`). Each negative control proves the corresponding check can fail.
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from typing import Any

import pytest
import yaml

from localcluster.kubectl import Kubectl
from tests.e2e.chart import crds
from tests.kit.chart import find, one, render
from tests.kit.kubectl import create_namespace

RELEASE = "pullpass"
NAMESPACE = "pullpass-system"
RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}

Manifest = dict[str, Any]

COMBINATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "rancher": {"rancher": True},
    "cert-manager": {"certificates": {"mode": "cert-manager"}},
    "service-monitor": {"serviceMonitor": {"enabled": True}},
    # Every optional object at once, with the values most likely to break templating.
    "everything": {
        "rancher": True,
        "certificates": {"mode": "cert-manager"},
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "replicaCount": 3,
        "webhook": {"excludeNamespaces": ["tenant-a", "tenant-b"]},
        "namespaceLabelPolicy": {"enabled": True, "allowedGroups": ["platform", "ops"]},
    },
    # Policy mode: the CRD, policies and bindings instead of the webhook, no certificates.
    "policy": {"admission": {"mode": "policy"}, "replication": {"enabled": False}},
    # The smallest install: one replica (no PDB), no replication rules, no NetworkPolicy.
    "minimal": {
        "replicaCount": 1,
        "replication": {"enabled": False},
        "networkPolicy": {"enabled": False},
    },
}
# Kinds each combination must contain, so a template silently rendering nothing is caught.
EXPECTED_KINDS: dict[str, set[str]] = {
    "default": {
        "Deployment",
        "Service",
        "MutatingWebhookConfiguration",
        "PodDisruptionBudget",
        "ValidatingAdmissionPolicyBinding",
    },
    "rancher": {"Deployment", "MutatingWebhookConfiguration"},
    "cert-manager": {"Certificate", "Issuer"},
    "service-monitor": {"ServiceMonitor"},
    "everything": {
        "Certificate",
        "Issuer",
        "ServiceMonitor",
        "PodDisruptionBudget",
        "ValidatingAdmissionPolicy",
    },
    "minimal": {"Deployment", "ClusterRole"},
    "policy": {
        "CustomResourceDefinition",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    },
}


@pytest.fixture(scope="module")
def release_namespace(kubectl: Kubectl) -> str:
    """What `helm install --create-namespace` makes, plus restricted Pod Security, plus the CRDs.

    The chart's ServiceAccount is created for real so a Pod from the Deployment's template can
    be dry-run (the ServiceAccount admission plugin refuses a pod whose account is missing).
    """
    create_namespace(kubectl, NAMESPACE, enabled=False, labels=RESTRICTED)
    crds.install(kubectl)
    kubectl.apply(one(render({}, release=RELEASE, namespace=NAMESPACE), "ServiceAccount"))
    return NAMESPACE


def dry_run(kubectl: Kubectl, objects: list[Manifest]) -> subprocess.CompletedProcess[str]:
    """`kubectl apply --dry-run=server --validate=strict -o json` of the objects as one file."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="pullpass-chart-") as file:
        yaml.safe_dump_all(objects, file)
        file.flush()
        return kubectl(
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-o",
            "json",
            "-f",
            file.name,
            check=False,
        )


def returned(done: subprocess.CompletedProcess[str]) -> list[Manifest]:
    out = json.loads(done.stdout)
    items: list[Manifest] = out["items"] if out.get("kind") == "List" else [out]
    return items


def identity(obj: Manifest) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def warnings(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.lower().startswith("warning")]


def pod_from_template(objects: list[Manifest], name: str) -> Manifest:
    """The Pod the Deployment's ReplicaSet would create, as a Pod object."""
    deployment = one(objects, "Deployment")
    template = copy.deepcopy(deployment["spec"]["template"])
    metadata = {**template.get("metadata", {}), "name": name, "namespace": NAMESPACE}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


@pytest.mark.parametrize("combination", list(COMBINATIONS))
def test_rendered_chart_passes_a_server_side_dry_run(
    kubectl: Kubectl, release_namespace: str, combination: str
) -> None:
    objects = render(COMBINATIONS[combination], release=RELEASE, namespace=release_namespace)
    kinds = {o["kind"] for o in objects}
    assert EXPECTED_KINDS[combination] <= kinds, f"{combination}: rendered only {sorted(kinds)}"

    done = dry_run(kubectl, objects)

    assert done.returncode == 0, f"{combination}: the API server refused the chart:\n{done.stderr}"
    assert not warnings(done), f"{combination}: the API server warned:\n{done.stderr}"
    accepted = sorted(identity(o) for o in returned(done))
    assert accepted == sorted(identity(o) for o in objects)


@pytest.mark.parametrize("combination", list(COMBINATIONS))
def test_deployment_pods_are_admitted_under_restricted_pod_security(
    kubectl: Kubectl, release_namespace: str, combination: str
) -> None:
    """The pod the Deployment makes, dry-run as a Pod: PodSecurity `restricted` enforces on Pods."""
    objects = render(COMBINATIONS[combination], release=RELEASE, namespace=release_namespace)
    pod = pod_from_template(objects, f"template-{combination}")

    done = dry_run(kubectl, [pod])

    assert done.returncode == 0, f"{combination}: the pod was refused:\n{done.stderr}"
    assert not warnings(done), f"{combination}: the API server warned:\n{done.stderr}"
    stored = returned(done)[0]
    container = stored["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert stored["spec"]["securityContext"]["runAsNonRoot"] is True


# --- negative controls: each check above can fail -----------------------------------------------


def test_strict_validation_refuses_an_unknown_field(
    kubectl: Kubectl, release_namespace: str
) -> None:
    objects = render({}, release=RELEASE, namespace=release_namespace)
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesytem"] = True  # misspelt on purpose

    done = dry_run(kubectl, objects)

    assert done.returncode != 0
    assert "readOnlyRootFilesytem" in done.stderr, done.stderr


def test_restricted_pod_security_refuses_a_weakened_pod(
    kubectl: Kubectl, release_namespace: str
) -> None:
    objects = render({}, release=RELEASE, namespace=release_namespace)
    pod = pod_from_template(objects, "weakened")
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True

    done = dry_run(kubectl, [pod])

    assert done.returncode != 0
    assert "violates PodSecurity" in done.stderr, done.stderr
    assert "allowPrivilegeEscalation" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("kind", "path", "value", "expected"),
    [
        ("Certificate", ("spec", "privateKey", "algorithm"), "DSA", "Unsupported value"),
        ("Certificate", ("spec", "secretname"), "x", "secretname"),
        ("Issuer", ("spec", "ca", "secretNme"), "x", "secretNme"),
        ("ServiceMonitor", ("spec", "endpoints", 0, "interval"), "30 seconds", "interval"),
    ],
)
def test_the_crds_refuse_what_upstream_refuses(
    kubectl: Kubectl,
    release_namespace: str,
    kind: str,
    path: tuple[str | int, ...],
    value: str,
    expected: str,
) -> None:
    """The CRDs are closed schemas with upstream enums and patterns, not pass-throughs."""
    objects = render(COMBINATIONS["everything"], release=RELEASE, namespace=release_namespace)
    target: Any = find(objects, kind)[-1]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value

    done = dry_run(kubectl, objects)

    assert done.returncode != 0, f"{kind} with {path}={value!r} was accepted"
    assert expected in done.stderr, done.stderr
