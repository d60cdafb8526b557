"""Policy mode on a real control plane: its objects applied, parameters written, no webhook.

`policy_mode` applies what `pullpass policy manifests` prints. `PolicyCluster.write` creates
Namespaces and Secrets, runs one pass of the leader's parameter writer over an index of the
cluster as it is, and waits until the API server's policies read the new parameters (they load
asynchronously: a sentinel pod, written last, must be mutated). `webhook_says` is the webhook's
own decision on the same objects, through `pullpass explain`'s report.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.core.admission.pod import read_pod
from app.core.credentials.credential import credential_from_secret, namespace_from_object
from app.core.credentials.scope import ScopeSettings
from app.core.policy.manifests import MAX_HELD_BYTES
from app.shell.cli.explain import build_report
from app.shell.cluster.client import api_client
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup
from app.shell.cluster.policy_writer import PolicyWriter
from localcluster.kubectl import Kubectl
from localcluster.webhook import INJECT_LABEL, pullpass_argv
from tests.kit.eventually import eventually
from tests.kit.kubectl import dry_run_create, pull_secrets
from tests.kit.objects import pod

CREDENTIALS_NAMESPACE = "pullpass-system"
SENTINEL_IMAGE = "sentinel.registry.example/app:1"
_SPACE = re.compile(r"\s*")

Object = dict[str, Any]


def namespace(name: str, *, enabled: bool = True, labels: dict[str, str] | None = None) -> Object:
    all_labels = {**(labels or {}), **({INJECT_LABEL: "enabled"} if enabled else {})}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": all_labels},
    }


def secret(
    namespace: str,
    name: str,
    *keys: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Object:
    """A `kubernetes.io/dockerconfigjson` Secret with one dummy login per registry key."""
    auth = base64.b64encode(b"e2e-user:not-a-real-password").decode()
    config = {"auths": {key: {"auth": auth} for key in keys}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


def as_list(items: Iterable[Object]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)})


def key(obj: Object) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


def json_stream(text: str) -> list[Object]:
    """kubectl prints one JSON document per object, back to back."""
    decoder, out = json.JSONDecoder(), []
    at = _SPACE.match(text, 0).end()
    while at < len(text):
        obj, at = decoder.raw_decode(text, at)
        out.append(obj)
        at = _SPACE.match(text, at).end()
    return out


@dataclass
class PolicyCluster:
    """Policy mode's objects applied to a cluster with no webhook."""

    kubectl: Kubectl
    kubeconfig: Path
    rounds: int = 0

    def index(self) -> Index:
        """An index of the cluster's Namespaces and Secrets as they are now, as pullpass's is."""
        # ServiceAccounts are not read: one the index lacks counts as ordinary, as in explain.
        index = Index(ScopeSettings(CREDENTIALS_NAMESPACE), fixed=True)
        listed = self.kubectl.json("get", "namespaces,secrets", "-A")["items"]
        index.replace_namespaces(
            namespace_from_object(o) for o in listed if o["kind"] == "Namespace"
        )
        for obj in listed:
            credential = credential_from_secret(obj) if obj["kind"] == "Secret" else None
            if credential is not None:
                index.put_credential(credential)
        return index

    def write(self, objects: Iterable[Object], held_bytes: int = MAX_HELD_BYTES) -> None:
        """Create the objects, then write every parameter object through the leader's code;
        `held_bytes`: the shared object's budget for covered namespaces' resolutions."""
        self.apply(list(objects))
        self.write_parameters(held_bytes)
        self.rounds += 1
        own, shared = f"pm-sentinel-{self.rounds}", f"pm-sentinel-{self.rounds}-shared"
        project = {"pullpass.io/project": own}
        self.apply(
            [
                namespace(own),
                secret(own, "sentinel", "sentinel.registry.example"),
                namespace(shared, labels=project),
                secret(CREDENTIALS_NAMESPACE, own, "sentinel.registry.example", labels=project),
            ]
        )
        # The second pass writes the shared object, then the sentinel's own: both come after
        # every object of the first pass, so two mutated sentinel pods prove all are loaded.
        self.write_parameters(held_bytes)
        for ns, name in ((own, "sentinel"), (shared, own)):
            eventually(
                lambda ns=ns, name=name: name in self.secrets_of(pod(ns, SENTINEL_IMAGE, name="s")),
                30,
                f"the API server's policies to read the parameters of {ns}",
                every=0.2,
            )

    def apply(self, objects: list[Object]) -> None:
        """`kubectl apply` the objects; returns once every new namespace can hold pods."""
        self.kubectl("apply", "-f", "-", input=as_list(objects))
        names = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
        eventually(lambda: names <= self._with_service_account(), 60, "default ServiceAccounts")

    def _with_service_account(self) -> set[str]:
        listed = self.kubectl.json(
            "get", "serviceaccounts", "-A", "--field-selector=metadata.name=default"
        )
        return {item["metadata"]["namespace"] for item in listed["items"]}

    def write_parameters(self, held_bytes: int = MAX_HELD_BYTES) -> None:
        """One pass of the leader's writer over the cluster as it is now: a namespace of an
        earlier example still being deleted refuses its object, and the pass writes the rest."""
        leading = threading.Event()
        leading.set()
        setup = LeaderSetup(api_client(str(self.kubeconfig)), self.index(), leading, lambda: True)
        writer = PolicyWriter(setup, held_bytes)
        writer.reconcile()

    def dry_run(self, pods: list[Object]) -> dict[tuple[str, str], Object]:
        """`kubectl create --dry-run=server` of the pods, by namespace and name.

        Pods the API server refuses (as it would in either mode: validation runs after
        admission) are left out.
        """
        done = dry_run_create(self.kubectl, as_list(pods), check=False)
        return {key(item): item for item in json_stream(done.stdout)}

    def secrets_of(self, manifest: Object) -> list[str]:
        created = self.dry_run([manifest]).get(key(manifest))
        return pull_secrets(created) if created else []

    def webhook_report(self, manifest: Object, index: Index) -> dict[str, Any]:
        """The webhook's decision on the pod, as `pullpass explain` reports it."""
        return build_report(manifest, read_pod(manifest, manifest["metadata"]["namespace"]), index)

    def webhook_says(self, manifest: Object, index: Index) -> list[str]:
        """Names the webhook appends, after those the pod lists."""
        listed = [s["name"] for s in manifest["spec"].get("imagePullSecrets", [])]
        return listed + list(self.webhook_report(manifest, index)["imagePullSecrets"])


@pytest.fixture(scope="session")
def policy_mode(kubectl: Kubectl, kubeconfig: Path) -> PolicyCluster:
    """`pullpass policy manifests` applied to a cluster with no webhook registered."""
    kubectl.apply(namespace(CREDENTIALS_NAMESPACE, enabled=False))
    printed = subprocess.run(
        [
            *pullpass_argv(),
            "policy",
            "manifests",
            f"--credentials-namespace={CREDENTIALS_NAMESPACE}",
            f"--kubeconfig={kubeconfig}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    kubectl("apply", "-f", "-", input=printed.stdout)
    hooks = kubectl.json("get", "mutatingwebhookconfigurations")["items"]
    assert hooks == [], "policy mode must be tested with no webhook registered"
    return PolicyCluster(kubectl, kubeconfig)
