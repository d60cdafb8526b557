"""Policy mode's parameter objects: only pullpass may write them (the chart's
`<fullname>-rules-writes` ValidatingAdmissionPolicy), on the real API server.

The bindings of policy mode read PullpassRules objects: whoever writes one decides what pods
get. A second release, `guard`, is rendered in policy mode; its CRD, its ServiceAccount with its
ClusterRole, and the guard are applied, nothing else of it. Its own token may write, and no
one else may, not even a cluster admin; a namespace holding one is still deleted (the namespace
controller removes what is in it).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.credentials.scope import Resolution
from app.core.policy.manifests import parameter_object
from app.core.policy.parameters import namespace_spec
from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from tests.e2e.scope.installation import RELEASE_NAMESPACE
from tests.kit.chart import Manifest, render
from tests.kit.eventually import eventually
from tests.kit.kubectl import create_namespace, unique

RELEASE = "guard"
POLICY = f"{RELEASE}-pullpass-rules-writes"
DENIED = f"ValidatingAdmissionPolicy '{POLICY}'"
KINDS = ("CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")


def _applied(objects: list[Manifest]) -> list[Manifest]:
    guard = [o for o in objects if o["metadata"]["name"] == POLICY]
    return [o for o in objects if o["kind"] in KINDS] + guard


@pytest.fixture(scope="module")
def writers(
    control_plane: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubectl]:
    """The guard release's own token; the CRD and guard applied and in force."""
    objects = render(
        {"admission": {"mode": "policy"}}, release=RELEASE, namespace=RELEASE_NAMESPACE
    )
    applied = _applied(objects)
    assert [o["kind"] for o in applied][-2:] == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    create_namespace(kubectl, RELEASE_NAMESPACE, enabled=False)
    for obj in applied:
        kubectl.apply(obj)
    kubectl("wait", "--for=condition=Established", "crd/pullpassrules.pullpass.io")
    path = tmp_path_factory.mktemp("guard") / "guard.kubeconfig"
    token = Kubectl(
        control_plane.service_account_kubeconfig(
            kubectl, RELEASE_NAMESPACE, f"{RELEASE}-pullpass", path
        )
    )
    probe = create_namespace(kubectl, unique("probe"))
    eventually(
        lambda: DENIED in _create(kubectl, probe, "--dry-run=server").stderr,
        30,
        "the parameter guard in force",
        every=0.3,
    )
    try:
        yield token
    finally:
        for obj in reversed(applied):
            if obj["kind"] != "ServiceAccount":
                kubectl("delete", obj["kind"], obj["metadata"]["name"], "--ignore-not-found")


def _rules(namespace: str) -> dict[str, Any]:
    return parameter_object(namespace, "pullpass", dict(namespace_spec(Resolution([]))))


def _create(user: Kubectl, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return user("create", *args, "-f", "-", input=json.dumps(_rules(namespace)), check=False)


def _refused(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, f"allowed: {done.stdout}"
    assert DENIED in done.stderr, done.stderr
    assert "only pullpass (system:serviceaccount:pullpass-system:guard-pullpass)" in done.stderr


def test_only_pullpass_writes_the_parameters(kubectl: Kubectl, writers: Kubectl) -> None:
    namespace = create_namespace(kubectl, unique("rules"))
    # The suite's admin is in system:masters: RBAC lets it do anything, the guard does not.
    _refused(_create(kubectl, namespace))
    done = _create(writers, namespace)
    assert done.returncode == 0, done.stderr
    written = kubectl.json("get", "pullpassrules", "pullpass", "-n", namespace)
    forged = json.loads(json.dumps(written))
    forged["spec"]["covered"] = {"victim": True}
    _refused(kubectl("replace", "-f", "-", input=json.dumps(forged), check=False))
    _refused(kubectl("delete", "pullpassrules", "pullpass", "-n", namespace, check=False))
    still = kubectl.json("get", "pullpassrules", "pullpass", "-n", namespace)
    assert still["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
    # Its own token may update and delete what it wrote.
    forged["spec"]["covered"] = {}
    done = writers("replace", "-f", "-", input=json.dumps(forged), check=False)
    assert done.returncode == 0, done.stderr
    done = writers("delete", "pullpassrules", "pullpass", "-n", namespace, check=False)
    assert done.returncode == 0, done.stderr


def test_a_namespace_holding_parameters_is_still_deleted(
    kubectl: Kubectl, writers: Kubectl
) -> None:
    namespace = create_namespace(kubectl, unique("rules-gone"))
    done = _create(writers, namespace)
    assert done.returncode == 0, done.stderr
    kubectl("delete", "namespace", namespace, "--wait=false")
    eventually(
        lambda: kubectl("get", "namespace", namespace, check=False).returncode != 0,
        60,
        f"namespace {namespace} deleted with its PullpassRules",
        every=0.5,
    )
