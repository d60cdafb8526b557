"""pullpass installed on the node as users install it: `helm install charts/pullpass`.

Why not `pullpass serve` on loopback as in the control-plane suites: on a real node the chart's
Deployment runs pullpass's own image, pulled by the kubelet from the private registry with its
own pull secret (the chart's `imagePullSecrets`), with self-managed certificates, and the API
server calls it through its Service. Whatever the chart gets wrong on a real node (probes,
security context, read-only root filesystem, the certificate directory) shows here.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import yaml

from localcluster.build import REPO
from localcluster.errors import ClusterError
from localcluster.node import PULLPASS_IMAGE, PULLPASS_TAG, Node

CHART = REPO / "charts" / "pullpass"
RELEASE = "pullpass"
NAMESPACE = "pullpass-system"
PULL_SECRET = "pullpass-registry"  # noqa: S105 - a Secret name, not a password
REGISTRY_USER = "pullpass"
INJECT_LABEL = "pullpass.io/inject"
PROBE_NAMESPACE = "pullpass-probe"
# Secretless mode next to the webhook: the credentials port, with the kubelet's plugin set up by
# the node harness itself (localcluster/kubelet) rather than the chart's DaemonSet.
SECRETLESS = (
    "credentialProvider.enabled=true",
    "credentialProvider.daemonSet.enabled=false",
)


@dataclass
class Release:
    """The installed chart: its names, and what it takes to check that it serves."""

    node: Node
    name: str = RELEASE
    namespace: str = NAMESPACE

    @property
    def fullname(self) -> str:
        return self.name if "pullpass" in self.name else f"{self.name}-pullpass"

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/name=pullpass,app.kubernetes.io/instance={self.name}"

    def pods(self) -> list[dict[str, Any]]:
        listed = self.node.kubectl.json("get", "pods", "-n", self.namespace, "-l", self.selector)
        pods: list[dict[str, Any]] = listed["items"]
        return pods

    def ready_pods(self) -> list[str]:
        """Names of the replicas that are Ready and not terminating."""
        out = []
        for pod in self.pods():
            if pod["metadata"].get("deletionTimestamp"):
                continue
            conditions = pod.get("status", {}).get("conditions", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                out.append(pod["metadata"]["name"])
        return out

    def scale(self, replicas: int) -> None:
        self.node.kubectl(
            "scale", "deployment", self.fullname, "-n", self.namespace, f"--replicas={replicas}"
        )

    def wait_ready(self, replicas: int = 2, timeout: float = 180) -> None:
        """Every replica of the Deployment Ready, and the API server calling one of them."""
        self.node.kubectl(
            "rollout",
            "status",
            f"deployment/{self.fullname}",
            "-n",
            self.namespace,
            f"--timeout={int(timeout)}s",
        )
        deadline = time.monotonic() + timeout
        while len(self.ready_pods()) != replicas:
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"pullpass has {len(self.ready_pods())} Ready replicas, not {replicas}:\n"
                    + self.diagnosis()
                )
            time.sleep(0.5)
        self.wait_called(timeout)

    def wait_called(self, timeout: float = 60) -> None:
        """The API server calls the webhook (through the Service) once pullpass has patched the
        caBundle and the Service has endpoints: a server-side dry run shows the injection."""
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe", "namespace": PROBE_NAMESPACE},
            "spec": {"containers": [{"name": "c", "image": "probe.registry.example/app:1"}]},
        }
        deadline = time.monotonic() + timeout
        while True:
            done = self.node.kubectl(
                "create", "--dry-run=server", "-o", "json", "-f", "-",
                input=json.dumps(pod), check=False,
            )  # fmt: skip
            if done.returncode == 0:
                stored = json.loads(done.stdout)
                if {"name": "probe"} in (stored["spec"].get("imagePullSecrets") or []):
                    return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the API server did not call pullpass within {timeout:.0f}s "
                    f"(last answer: {done.stdout[-500:]}{done.stderr[-500:]})\n{self.diagnosis()}"
                )
            time.sleep(0.5)

    def upgrade(self, *sets: str, reset: bool = False, timeout: float = 300) -> None:
        """`helm upgrade` with `--set` values over the installed ones (or over the install's
        values file, `reset`), then the rollout done."""
        values = (
            ["--reset-values", "--values", str(self.node.workdir / "pullpass-values.yaml")]
            if reset
            else ["--reuse-values"]
        )
        self.node.helm(
            "upgrade", self.name, str(CHART), "--namespace", self.namespace, *values,
            *[a for value in sets for a in ("--set", value)], "--wait",
            f"--timeout={int(timeout)}s", timeout=timeout + 30,
        )  # fmt: skip
        self.node.kubectl(
            "rollout", "status", f"deployment/{self.fullname}", "-n", self.namespace,
            f"--timeout={int(timeout)}s",
        )  # fmt: skip

    def write_plugin_settings(self, port: int = 8444) -> None:
        """What the chart's DaemonSet writes on a node for the plugin: pullpass's Service address
        and CA, and the kubelet's own client certificate."""
        kubectl, kubelet = self.node.kubectl, self.node.kubelet
        service = kubectl.json("get", "service", self.fullname, "-n", self.namespace)
        tls = kubectl.json("get", "secret", f"{self.fullname}-tls", "-n", self.namespace)
        ca = self.node.workdir / "pullpass-ca.crt"
        ca.write_bytes(base64.b64decode(tls["data"]["ca.crt"]))
        settings = {
            "url": f"https://{service['spec']['clusterIP']}:{port}/credentials",
            "caFile": str(ca),
            "serverName": f"{self.fullname}.{self.namespace}.svc",
            "certFile": str(kubelet.client_pem),
            "keyFile": str(kubelet.client_pem),
        }
        kubelet.credential_settings.write_text(json.dumps(settings))

    def diagnosis(self) -> str:
        """The release's pods, their events and logs: why it is not serving."""
        parts = [
            self.node.kubectl(*args, check=False).stdout
            for args in (
                ("get", "pods", "-n", self.namespace, "-o", "wide"),
                ("get", "events", "-n", self.namespace, "--sort-by=.lastTimestamp"),
            )
        ]
        return "\n".join([*parts, self.logs()])[-6000:]

    def logs(self) -> str:
        done = self.node.kubectl(
            "logs", "-n", self.namespace, "-l", self.selector, "--prefix", "--tail=200",
            check=False,
        )  # fmt: skip
        return done.stdout + done.stderr


def install(
    node: Node,
    *,
    values: dict[str, Any] | None = None,
    timeout: float = 300,
) -> Release:
    """`helm install` the chart with its image and pull secret from the private registry, then
    wait until both replicas are Ready and the API server calls them."""
    kubectl = node.kubectl
    password = node.registry.users.get(REGISTRY_USER)
    if password is None:
        raise ClusterError(f"the registry has no user {REGISTRY_USER!r} for pullpass's own pulls")
    kubectl("create", "namespace", NAMESPACE)
    kubectl(
        "create", "secret", "docker-registry", PULL_SECRET, "-n", NAMESPACE,
        f"--docker-server={node.registry.host}", f"--docker-username={REGISTRY_USER}",
        f"--docker-password={password}",
    )  # fmt: skip
    # The probe namespace: enabled, with a credential the dry run shows when pullpass is called.
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": PROBE_NAMESPACE, "labels": {INJECT_LABEL: "enabled"}},
        }
    )
    kubectl(
        "create", "secret", "docker-registry", "probe", "-n", PROBE_NAMESPACE,
        "--docker-server=probe.registry.example", "--docker-username=probe",
        "--docker-password=probe",
    )  # fmt: skip
    chosen = {
        "image": {"repository": PULLPASS_IMAGE, "tag": PULLPASS_TAG},
        "imagePullSecrets": [{"name": PULL_SECRET}],
        **(values or {}),
    }
    values_file = node.workdir / "pullpass-values.yaml"
    values_file.write_text(yaml.safe_dump(chosen, sort_keys=False))
    release = Release(node)
    try:
        node.helm(
            "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "--values", str(values_file), "--wait", f"--timeout={int(timeout)}s",
            timeout=timeout + 30,
        )  # fmt: skip
    except ClusterError as error:
        raise ClusterError(f"{error}\n{release.diagnosis()}") from None
    replicas = int(chosen.get("replicaCount", 2))
    release.wait_ready(replicas, timeout)
    return release
