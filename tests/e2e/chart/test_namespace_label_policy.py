"""The optional namespace label policy, on the real API server, with client-certificate users.

Two users hold the same RBAC right to create and update Namespaces: `outsider` in a group the
policy does not name, `member` in one it does. Only the member may set, change or remove the
project label or `pullpass.io/inject`; any other label change passes for both. The policies are
cluster-wide, so the module removes them again (the suite's admin is in `system:masters`, which
the chart's default allows, and keeps labelling its namespaces meanwhile).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from tests.kit.chart import Manifest, find, render
from tests.kit.eventually import eventually
from tests.kit.kubectl import unique

MEMBERS = "platform-team"
PROJECT = "pullpass.io/project"
RANCHER_PROJECT = "field.cattle.io/projectId"
INJECT = "pullpass.io/inject"
DENIED = "may set, change or remove the labels"
# Two releases: the default project label, and the Rancher preset's.
RELEASES: dict[str, dict[str, Any]] = {
    "labels": {},
    "rancher-labels": {"rancher": True},
}
EDITOR: Manifest = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "e2e-namespace-editor"},
    "rules": [
        {
            "apiGroups": [""],
            "resources": ["namespaces", "namespaces/status"],
            "verbs": ["get", "create", "update", "patch"],
        }
    ],
}


def _policies(release: str, values: dict[str, Any]) -> list[Manifest]:
    allowed = {"enabled": True, "allowedGroups": ["system:masters", MEMBERS]}
    objects = render({**values, "namespaceLabelPolicy": allowed}, release=release)
    return [
        o
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
        for o in find(objects, kind, f"{release}-pullpass-namespace-labels")
    ]


@pytest.fixture(scope="module")
def users(control_plane: ControlPlane, kubectl: Kubectl) -> Iterator[tuple[Kubectl, Kubectl]]:
    """(outsider, member), both allowed by RBAC to create and update Namespaces."""
    installed = [o for release, values in RELEASES.items() for o in _policies(release, values)]
    assert len(installed) == 4, [o["metadata"]["name"] for o in installed]
    for obj in installed:
        kubectl.apply(obj)
    kubectl.apply(EDITOR)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "e2e-namespace-editor"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": EDITOR["metadata"]["name"],
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}
            for g in ("tenants", MEMBERS)
        ],
    }
    kubectl.apply(binding)
    outsider = Kubectl(control_plane.client_kubeconfig("outsider", ["tenants"]))
    member = Kubectl(control_plane.client_kubeconfig("member", [MEMBERS]))
    try:
        # The API server loads new policies asynchronously: wait until both refuse a dry run.
        for label in (PROJECT, RANCHER_PROJECT):
            eventually(
                partial(_in_force, outsider, label),
                30,
                f"the policy on {label} in force",
                every=0.3,
            )
        yield outsider, member
    finally:
        for obj in reversed([*installed, EDITOR, binding]):
            kubectl("delete", obj["kind"], obj["metadata"]["name"], "--ignore-not-found")


def _in_force(outsider: Kubectl, label: str) -> bool:
    return DENIED in _namespace(outsider, "probe", {label: "p"}, "--dry-run=server").stderr


def _label(user: Kubectl, namespace: str, *labels: str) -> subprocess.CompletedProcess[str]:
    return user("label", "namespace", namespace, "--overwrite", *labels, check=False)


def _refused(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, f"allowed: {done.stdout}"
    assert DENIED in done.stderr, done.stderr


def _labels(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    labels: dict[str, str] = kubectl.json("get", "namespace", namespace)["metadata"]["labels"]
    return labels


def _namespace(
    user: Kubectl, name: str, labels: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    return user("create", "-f", "-", *args, input=json.dumps(body), check=False)


def test_an_outsider_cannot_join_a_project_or_enable_injection(
    kubectl: Kubectl, users: tuple[Kubectl, Kubectl]
) -> None:
    outsider, _ = users
    namespace = unique("outsider")
    outsider("create", "namespace", namespace)
    for label in (f"{INJECT}=enabled", f"{PROJECT}=alpha", f"{RANCHER_PROJECT}=p-1"):
        _refused(_label(outsider, namespace, label))
    # The status subresource carries metadata too: it is no way around the policy.
    patch = json.dumps({"metadata": {"labels": {PROJECT: "alpha"}}})
    done = outsider(
        "patch",
        "namespace",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
        check=False,
    )
    _refused(done)
    for labels in ({INJECT: "enabled"}, {PROJECT: "alpha"}, {RANCHER_PROJECT: "p-1"}):
        _refused(_namespace(outsider, unique("outsider"), labels))
    # Unrelated labels still pass, on update and on create.
    assert _label(outsider, namespace, "team=blue").returncode == 0
    assert _namespace(outsider, unique("outsider"), {"team": "blue"}).returncode == 0
    labels = _labels(kubectl, namespace)
    assert labels["team"] == "blue"
    assert not {INJECT, PROJECT, RANCHER_PROJECT} & set(labels)


def test_an_outsider_cannot_change_or_remove_what_a_member_set(
    kubectl: Kubectl, users: tuple[Kubectl, Kubectl]
) -> None:
    outsider, member = users
    namespace = unique("member")
    done = _namespace(member, namespace, {INJECT: "enabled", PROJECT: "alpha"})
    assert done.returncode == 0, done.stderr
    assert _label(member, namespace, f"{RANCHER_PROJECT}=p-1").returncode == 0

    for change in (f"{PROJECT}=beta", f"{PROJECT}-", f"{INJECT}=disabled", f"{RANCHER_PROJECT}-"):
        _refused(_label(outsider, namespace, change))
    assert _label(outsider, namespace, "team=red").returncode == 0
    assert _label(member, namespace, f"{PROJECT}=beta", f"{INJECT}-").returncode == 0
    labels = _labels(kubectl, namespace)
    assert labels[PROJECT] == "beta"
    assert labels[RANCHER_PROJECT] == "p-1"
    assert labels["team"] == "red"
    assert INJECT not in labels
