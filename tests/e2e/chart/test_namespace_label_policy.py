"""The namespace label policy (on by default) on the real API server, client-certificate users.

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
# Two releases: the default project label, and the Rancher preset's. The API server names only
# the first policy that refuses, so a prober, allowed by the first release only, tells when the
# second is in force.
PROBERS = "probers"
RELEASES: dict[str, dict[str, Any]] = {
    "labels": {"namespaceLabelPolicy": {"allowedGroups": ["system:masters", MEMBERS, PROBERS]}},
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
    objects = render({"namespaceLabelPolicy": allowed, **values}, release=release)
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
            for g in ("tenants", MEMBERS, PROBERS)
        ],
    }
    kubectl.apply(binding)
    outsider = Kubectl(control_plane.client_kubeconfig("outsider", ["tenants"]))
    member = Kubectl(control_plane.client_kubeconfig("member", [MEMBERS]))
    prober = Kubectl(control_plane.client_kubeconfig("prober", [PROBERS]))
    try:
        # The API server loads new policies asynchronously: wait until both are in force.
        for user, label in ((outsider, PROJECT), (prober, INJECT)):
            eventually(partial(_in_force, user, label), 30, f"a policy on {label}", every=0.3)
        yield outsider, member
    finally:
        for obj in reversed([*installed, EDITOR, binding]):
            kubectl("delete", obj["kind"], obj["metadata"]["name"], "--ignore-not-found")


def _in_force(user: Kubectl, label: str) -> bool:
    return DENIED in _namespace(user, "probe", {label: "p"}, "--dry-run=server").stderr


def _label(user: Kubectl, namespace: str, *labels: str) -> subprocess.CompletedProcess[str]:
    return user("label", "namespace", namespace, "--overwrite", *labels, check=False)


def _refused(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, f"allowed: {done.stdout}"
    assert DENIED in done.stderr, done.stderr
    # The refusal says what to change: an admin outside the groups is not left guessing.
    assert "add it to the pullpass chart value namespaceLabelPolicy.allowedGroups" in done.stderr


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
    for label in (f"{INJECT}=enabled", f"{PROJECT}=alpha"):
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
    for labels in ({INJECT: "enabled"}, {PROJECT: "alpha"}):
        _refused(_namespace(outsider, unique("outsider"), labels))
    # Unrelated labels still pass, on update and on create; so does Rancher's project label,
    # which under the preset grants nothing (Rancher's own webhook guards its annotation).
    assert _label(outsider, namespace, "team=blue").returncode == 0
    assert _label(outsider, namespace, f"{RANCHER_PROJECT}=p-1").returncode == 0
    assert _namespace(outsider, unique("outsider"), {"team": "blue"}).returncode == 0
    labels = _labels(kubectl, namespace)
    assert labels["team"] == "blue"
    assert not {INJECT, PROJECT} & set(labels)


def test_an_outsider_cannot_change_or_remove_what_a_member_set(
    kubectl: Kubectl, users: tuple[Kubectl, Kubectl]
) -> None:
    outsider, member = users
    namespace = unique("member")
    done = _namespace(member, namespace, {INJECT: "enabled", PROJECT: "alpha"})
    assert done.returncode == 0, done.stderr

    for change in (f"{PROJECT}=beta", f"{PROJECT}-", f"{INJECT}=disabled"):
        _refused(_label(outsider, namespace, change))
    assert _label(outsider, namespace, "team=red").returncode == 0
    assert _label(member, namespace, f"{PROJECT}=beta", f"{INJECT}-").returncode == 0
    labels = _labels(kubectl, namespace)
    assert labels[PROJECT] == "beta"
    assert labels["team"] == "red"
    assert INJECT not in labels
