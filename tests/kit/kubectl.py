"""What a user does with kubectl, as small helpers: namespaces, registry secrets, pods."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from subprocess import CompletedProcess
from typing import Any

from localcluster.kubectl import Kubectl
from localcluster.webhook import INJECT_LABEL
from tests.kit import objects
from tests.kit.eventually import eventually


@dataclass
class Passwords:
    """Every password handed to kubectl in the suite, so the log test can look for them."""

    used: list[tuple[str, str]] = field(default_factory=list)

    def new(self, tag: str, user: str = "e2e-user") -> str:
        password = f"pw-{tag}-{uuid.uuid4().hex}"
        self.used.append((user, password))
        return password

    def needles(self) -> list[str]:
        """Each password, and the base64 `user:password` that docker configs carry as `auth`."""
        out: list[str] = []
        for user, password in self.used:
            out.append(password)
            out.append(base64.b64encode(f"{user}:{password}".encode()).decode())
        return out


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_namespace(
    kubectl: Kubectl,
    name: str,
    *,
    enabled: bool = True,
    labels: dict[str, str] | None = None,
    wait_account: bool = True,
) -> str:
    """A namespace (opted in unless told otherwise) whose default ServiceAccount exists, unless
    told not to wait for the controller-manager to make it."""
    all_labels = dict(labels or {})
    if enabled:
        all_labels[INJECT_LABEL] = "enabled"
    kubectl.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}}
    )
    if not wait_account:
        return name
    # Pods are refused until the ServiceAccount controller has made `default`.
    eventually(
        lambda: (
            kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0
        ),
        30,
        f"the default ServiceAccount in {name}",
    )
    return name


def docker_registry_secret(
    kubectl: Kubectl,
    passwords: Passwords,
    namespace: str,
    name: str,
    server: str | None = None,
    *,
    user: str = "e2e-user",
) -> str:
    """`kubectl create secret docker-registry`, exactly as the Rancher docs show it.

    Without `server`, kubectl writes its default key, https://index.docker.io/v1/.
    Returns the password used.
    """
    args, password = docker_registry_args(passwords, namespace, name, server, user)
    kubectl(*args)
    return password


def docker_registry_args(
    passwords: Passwords, namespace: str, name: str, server: str | None, user: str
) -> tuple[list[str], str]:
    """The kubectl arguments that create a registry credential, with a fresh password."""
    password = passwords.new(name, user)
    args = [
        "create",
        "secret",
        "docker-registry",
        name,
        "-n",
        namespace,
        f"--docker-username={user}",
        f"--docker-password={password}",
    ]
    if server is not None:
        args.append(f"--docker-server={server}")
    return args, password


def apply_pod(kubectl: Kubectl, manifest: dict[str, Any]) -> dict[str, Any]:
    """`kubectl apply` the pod, then read back what the API server stored."""
    kubectl.apply(manifest)
    meta = manifest["metadata"]
    stored: dict[str, Any] = kubectl.json("get", "pod", meta["name"], "-n", meta["namespace"])
    return stored


def pull_secrets(pod: dict[str, Any]) -> list[str]:
    """The stored pod's `spec.imagePullSecrets` names, in order."""
    return [ref["name"] for ref in pod["spec"].get("imagePullSecrets") or []]


def pod_annotations(pod: dict[str, Any]) -> dict[str, str]:
    return dict(pod["metadata"].get("annotations") or {})


def as_json(obj: Any) -> str:
    return json.dumps(obj, indent=1)


@dataclass
class PodStream:
    """Creates pods one after another in a thread with `kubectl create`, as a CI job would;
    records what the API server stored for each. `node_selector`: pods no node matches stay
    Pending, so a real node does not run dozens of them (admission happens at create)."""

    kubectl: Kubectl
    namespace: str
    image: str
    prefix: str
    results: list[tuple[float, str, list[str], str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    count: int = 0
    node_selector: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"pods-{self.prefix}", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.create_one()

    def create_one(self) -> None:
        """Create the next pod and record what the API server stored."""
        name = f"{self.prefix}-{self.count}"
        self.count += 1
        manifest = objects.pod(self.namespace, self.image, name=name)
        if self.node_selector is not None:
            manifest["spec"]["nodeSelector"] = self.node_selector
        done = self.kubectl(
            "create", "-f", "-", "-o", "json", input=json.dumps(manifest), check=False
        )
        if done.returncode != 0:
            self.errors.append(f"{name}: {done.stderr.strip()[:300]}")
            return
        pod = json.loads(done.stdout)
        note = (pod["metadata"].get("annotations") or {}).get("pullpass.io/injected", "")
        self.results.append((time.monotonic(), name, pull_secrets(pod), note))

    def start(self) -> PodStream:
        self.thread.start()
        return self

    def stop(self, timeout: float = 60) -> None:
        self.stopping.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the pod stream did not stop"

    def created_since(self, moment: float) -> int:
        return sum(1 for at, *_ in list(self.results) if at >= moment)


def dry_run_create(kubectl: Kubectl, manifest: str, *, check: bool = True) -> CompletedProcess[str]:
    """`kubectl create --dry-run=server -o json`: the whole admission chain runs, nothing is
    stored, and stdout is what the API server would have stored."""
    return kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-", input=manifest, check=check
    )
