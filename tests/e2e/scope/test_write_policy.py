"""The chart's Secret-write policy confines pullpass's own token, where RBAC cannot.

The suite's fixtures apply the chart's ValidatingAdmissionPolicy with its RBAC, so every other
scope test already replicates under it. Here pullpass's own token (the kubeconfig the replicas
run with) tries what RBAC allows it but its job never needs, and each attempt must be refused by
the policy, not by RBAC; and a copy's whole life (create, update on rotation, delete) still runs.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import (
    MANAGED_BY,
    PROJECT,
    SCOPE,
    apply_registry_secret,
    get_secret,
    wait_copies,
    wait_no_copies,
)
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, create_namespace, docker_registry_secret, unique

REGISTRY = "policy.registry.example"
DENIED = "ValidatingAdmissionPolicy 'pullpass-secret-writes'"


def _token(installation: Installation) -> Kubectl:
    """kubectl as pullpass itself: the chart's ServiceAccount token."""
    return Kubectl(installation.kubeconfig)


def _project_copy(
    kubectl: Kubectl, installation: Installation, passwords: Passwords, prefix: str
) -> tuple[str, str, dict[str, Any]]:
    """A project source in the credentials namespace and its copy in a new project namespace:
    (that namespace, the source's name, the copy)."""
    project = unique(prefix)
    namespace = create_namespace(kubectl, unique(prefix), labels={PROJECT: project})
    name = unique(f"{prefix}-reg")
    home = installation.credentials_namespace
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    return namespace, name, wait_copies(kubectl, home, name, {namespace})[namespace]


def _refused(done: subprocess.CompletedProcess[str]) -> None:
    """The API server refused the write, and it was the policy, not RBAC, that did."""
    assert done.returncode != 0, f"the write was allowed: {done.stdout}"
    assert DENIED in done.stderr, done.stderr


def _put(token: Kubectl, secret: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """A PUT (update), the one write verb besides create and delete the ClusterRole grants."""
    return token("replace", "-f", "-", input=json.dumps(secret), check=False)


def _secret_json(namespace: str, name: str, labels: dict[str, str], kind: str) -> str:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "type": kind,
        "data": {".dockerconfigjson": "eyJhdXRocyI6e319"} if "docker" in kind else {},
    }
    return json.dumps(secret)


@pytest.fixture(autouse=True, scope="module")
def in_force(kubectl: Kubectl, installation: Installation) -> None:
    """The API server loads a new policy asynchronously: wait until it refuses a dry run."""
    namespace = create_namespace(kubectl, unique("probe"), enabled=False)
    body = _secret_json(namespace, "probe", {}, "Opaque")
    token = _token(installation)
    eventually(
        lambda: (
            DENIED in token("create", "--dry-run=server", "-f", "-", input=body, check=False).stderr
        ),
        30,
        "the Secret write policy in force",
        every=0.3,
    )


def test_the_policy_is_installed_and_bound(kubectl: Kubectl, pullpass: Pullpass) -> None:
    binding = kubectl.json("get", "validatingadmissionpolicybinding", "pullpass-secret-writes")
    assert binding["spec"]["validationActions"] == ["Deny"]
    policy = kubectl.json("get", "validatingadmissionpolicy", "pullpass-secret-writes")
    # The API server compiled every expression: a type error would refuse every write.
    assert not (policy.get("status", {}).get("typeChecking") or {}).get("expressionWarnings")


def test_pullpass_cannot_overwrite_or_delete_a_tenant_secret(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, unique("tenant"))
    docker_registry_secret(kubectl, passwords, namespace, "theirs", REGISTRY)
    before = get_secret(kubectl, namespace, "theirs")
    assert before is not None
    token = _token(installation)
    for verb in ("update", "delete"):
        allowed = token("auth", "can-i", verb, "secrets/theirs", "-n", namespace).stdout.strip()
        assert allowed == "yes", f"RBAC should allow {verb}: the policy is what refuses it"

    overwritten = json.loads(json.dumps(before))
    overwritten["data"][".dockerconfigjson"] = "eyJhdXRocyI6e319"
    _refused(_put(token, overwritten))
    # Adding the managed-by label does not make it pullpass's: before the write it was not.
    taken = json.loads(json.dumps(before))
    taken["metadata"].setdefault("labels", {})[MANAGED_BY] = "pullpass"
    _refused(_put(token, taken))
    _refused(token("delete", "secret", "theirs", "-n", namespace, check=False))

    after = get_secret(kubectl, namespace, "theirs")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_pullpass_creates_only_labelled_registry_credentials(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation
) -> None:
    namespace = create_namespace(kubectl, unique("tenant"))
    token = _token(installation)
    managed = {MANAGED_BY: "pullpass"}
    dockerconfig = "kubernetes.io/dockerconfigjson"
    for name, labels, kind in (
        ("unlabelled", {}, dockerconfig),
        ("not-a-credential", managed, "Opaque"),
    ):
        body = _secret_json(namespace, name, labels, kind)
        _refused(token("create", "-f", "-", input=body, check=False))
        assert get_secret(kubectl, namespace, name) is None
    # The control: what a copy looks like is allowed, so the refusals above are the policy's.
    body = _secret_json(namespace, "like-a-copy", managed, dockerconfig)
    token("create", "-f", "-", input=body)
    # A labelled Secret without a source is an orphan copy: the replicator deletes it itself.
    token("delete", "secret", "like-a-copy", "-n", namespace, "--ignore-not-found")


def _dry_run(token: Kubectl, secret: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """A server-side dry-run create: admission judges it in full, nothing is left behind."""
    return token("create", "--dry-run=server", "-f", "-", input=json.dumps(secret), check=False)


def _secret(namespace: str, name: str, labels: dict[str, str], kind: str) -> dict[str, Any]:
    secret: dict[str, Any] = json.loads(_secret_json(namespace, name, labels, kind))
    if kind == "kubernetes.io/tls":
        secret["data"] = {"tls.crt": "", "tls.key": ""}
    elif kind == "kubernetes.io/dockercfg":
        secret["data"] = {".dockercfg": "e30="}
    return secret


def test_a_stolen_token_cannot_mint_a_source_under_the_tls_name(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation
) -> None:
    """The TLS clause named the Secret but not its type: `<fullname>-tls` could be a
    dockerconfigjson labelled scope=cluster in the credentials namespace, a cluster source the
    replicator would copy everywhere."""
    home = installation.credentials_namespace
    token = _token(installation)
    tls = "pullpass-tls"
    for labels, kind in (
        ({SCOPE: "cluster"}, "kubernetes.io/dockerconfigjson"),
        ({PROJECT: "any"}, "kubernetes.io/dockercfg"),
        ({}, "Opaque"),
    ):
        _refused(_dry_run(token, _secret(home, tls, labels, kind)))
    # The control: the TLS Secret pullpass keeps is still its to write.
    done = _dry_run(token, _secret(home, tls, {}, "kubernetes.io/tls"))
    assert done.returncode == 0, done.stderr


def test_copies_go_only_into_enabled_namespaces_and_carry_no_scope(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation
) -> None:
    token = _token(installation)
    dockerconfig = "kubernetes.io/dockerconfigjson"
    managed = {MANAGED_BY: "pullpass"}
    enabled = create_namespace(kubectl, unique("copies"))
    disabled = create_namespace(kubectl, unique("copies"), enabled=False)
    for namespace in (disabled, "kube-system", "default", installation.credentials_namespace):
        done = _dry_run(token, _secret(namespace, "like-a-copy", managed, dockerconfig))
        _refused(done)
        assert "only into namespaces labelled pullpass.io/inject=enabled" in done.stderr
    for scope in ({SCOPE: "cluster"}, {PROJECT: "p"}):
        done = _dry_run(token, _secret(enabled, "like-a-copy", {**managed, **scope}, dockerconfig))
        _refused(done)
        assert "may carry neither pullpass.io/scope nor pullpass.io/project" in done.stderr
    # The control: a plain copy into an enabled namespace passes.
    done = _dry_run(token, _secret(enabled, "like-a-copy", managed, dockerconfig))
    assert done.returncode == 0, done.stderr


def test_a_copy_in_a_namespace_no_longer_enabled_cannot_be_updated_but_is_deleted(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    namespace, name, copy = _project_copy(kubectl, installation, passwords, "gone")
    home = installation.credentials_namespace
    token = _token(installation)
    # Stop the leader, so that the copy stays while the namespace is disabled.
    installation.stop_all()
    kubectl("label", "namespace", namespace, "pullpass.io/inject-")
    _refused(_put(token, copy))
    installation.baseline()
    wait_no_copies(kubectl, name, {namespace})
    kubectl("delete", "secret", name, "-n", home)


def test_a_copy_cannot_be_taken_over_by_stripping_its_label(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    namespace, name, copy = _project_copy(kubectl, installation, passwords, "strip")
    home = installation.credentials_namespace
    token = _token(installation)

    released = json.loads(json.dumps(copy))
    del released["metadata"]["labels"][MANAGED_BY]
    _refused(_put(token, released))
    still = get_secret(kubectl, namespace, name)
    assert still is not None
    assert still["metadata"]["labels"][MANAGED_BY] == "pullpass"
    kubectl("delete", "secret", name, "-n", home)
    wait_no_copies(kubectl, name, {namespace})


def test_replication_runs_under_the_policy(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    """Create, update on rotation, delete: each write of the replicator passes the policy."""
    project = unique("life")
    mine = {create_namespace(kubectl, unique("life"), labels={PROJECT: project}) for _ in "ab"}
    name = unique("life-reg")
    home = installation.credentials_namespace
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    first = wait_copies(kubectl, home, name, mine)

    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    rotated = wait_copies(kubectl, home, name, mine)
    for namespace in mine:
        assert rotated[namespace]["data"] != first[namespace]["data"], "the copy was not updated"

    kubectl("delete", "secret", name, "-n", home)
    wait_no_copies(kubectl, name, mine)
    log = pullpass.component.log.read_text(errors="replace")
    assert "pullpass-secret-writes" not in log, "the policy refused one of pullpass's writes"
