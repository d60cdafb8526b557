"""A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager).

Importable on its own (no pytest), so the end-to-end suite, other suites and scripts can share it:

    bin_dir = build_control_plane()
    with ControlPlane(bin_dir, workdir) as cluster:
        kubectl = Kubectl(cluster.kubeconfig)
        kubectl("get", "namespaces")

Every process listens on loopback only, runs in its own process group, dies with its parent
(Linux) and is killed on `stop()` and at interpreter exit. A missing binary or a failed start
raises `ClusterError` naming what is missing and the tail of the component's log.

For a real node (`localcluster.node`) the same control plane runs inside the node's network
namespace (`netns`), the API server bound to and advertising the node address: the `kubernetes`
Service then has an endpoint pods reach through kube-proxy, and the API server reaches the
kubelet (logs, exec) with a client certificate of its own.
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localcluster.build import check_binaries
from localcluster.certificates import issue, new_ca, write_pair
from localcluster.errors import ClusterError
from localcluster.healthz import healthz_ok
from localcluster.kubeconfig import client_certificate, write_client_kubeconfig, write_kubeconfig
from localcluster.kubectl import Kubectl
from localcluster.netns import NetworkNamespace
from localcluster.processes import Component, free_port

T = TypeVar("T")


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


SERVICE_CIDR = "10.0.0.0/24"
# Writes as `apiserver_request_total` labels them: HTTP-style verbs (create is POST, update PUT).
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "APPLY")
SERVICE_IP = "10.0.0.1"  # the `kubernetes` Service: the first address of SERVICE_CIDR
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on loopback, state under `workdir`.

    With `netns`, every process runs inside that network namespace and the API server binds
    and advertises `netns.address` on the standard port 6443 (the namespace is the node's own,
    so no port can collide); etcd and the controller-manager stay on its loopback.
    """

    def __init__(
        self,
        bin_dir: Path,
        workdir: Path,
        *,
        start_timeout: float = 120,
        netns: NetworkNamespace | None = None,
    ) -> None:
        check_binaries(bin_dir)
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.netns = netns
        self.pki_dir = workdir / "pki"
        self.logs_dir = workdir / "logs"
        if netns is None:
            self.address = "127.0.0.1"
            self.etcd_client_port = free_port()
            self.etcd_peer_port = free_port()
            self.apiserver_port = free_port()
            self.kcm_port = free_port()
        else:
            self.address = netns.address
            self.etcd_client_port, self.etcd_peer_port = 2379, 2380
            self.apiserver_port, self.kcm_port = 6443, 10257
        self.server = f"https://{self.address}:{self.apiserver_port}"
        wrapper = netns.wrapper() if netns is not None else []
        self._write_pki()
        self.kubeconfig = write_kubeconfig(
            workdir / "admin.kubeconfig",
            self.server,
            self.ca.cert_pem,
            client_certificate(self.admin),
            "admin",
        )
        self._kcm_kubeconfig = write_client_kubeconfig(
            workdir / "kcm.kubeconfig",
            self.server,
            self.ca,
            "system:kube-controller-manager",
            namespace="kube-system",
        )
        self.etcd = Component(
            "etcd", self._etcd_argv(), self.logs_dir / "etcd.log", wrapper=wrapper
        )
        self.apiserver = Component(
            "kube-apiserver",
            self._apiserver_argv(),
            self.logs_dir / "kube-apiserver.log",
            wrapper=wrapper,
        )
        self.controller_manager = Component(
            "kube-controller-manager",
            self._kcm_argv(),
            self.logs_dir / "kube-controller-manager.log",
            wrapper=wrapper,
        )

    # -- setup -------------------------------------------------------------------------------

    def _write_pki(self) -> None:
        self.ca = new_ca("pullpass-e2e-ca")
        self.ca_file, self.ca_key_file = write_pair(self.ca, self.pki_dir, "ca")
        serving = issue(
            self.ca,
            "kube-apiserver",
            hosts=[
                *([self.address] if self.address != "127.0.0.1" else []),
                "127.0.0.1",
                "localhost",
                SERVICE_IP,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
        )
        self.serving_cert, self.serving_key = write_pair(serving, self.pki_dir, "apiserver")
        self.admin = issue(self.ca, "admin", organizations=["system:masters"], client=True)
        self.admin_cert, self.admin_key = write_pair(self.admin, self.pki_dir, "admin")
        # The API server's identity towards kubelets (logs, exec, port-forward).
        kubelet_client = issue(
            self.ca, "kube-apiserver-kubelet-client", organizations=["system:masters"], client=True
        )
        self.kubelet_client_cert, self.kubelet_client_key = write_pair(
            kubelet_client, self.pki_dir, "apiserver-kubelet-client"
        )
        signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sa_key = self.pki_dir / "sa.key"
        self.sa_pub = self.pki_dir / "sa.pub"
        self.sa_key.write_bytes(_key_pem(signing))
        self.sa_key.chmod(0o600)
        self.sa_pub.write_bytes(
            signing.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self.etcd_client_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        return [
            str(self.bin_dir / "etcd"),
            "--name=pullpass-e2e",
            f"--data-dir={self.workdir / 'etcd-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=pullpass-e2e={peer}",
            "--log-level=warn",
            # A throwaway test cluster on a shared disk: durability across power loss is moot.
            "--unsafe-no-fsync",
        ]

    def _apiserver_argv(self) -> list[str]:
        if self.netns is None:
            # No nodes and a loopback address: the `kubernetes` Service endpoints cannot exist.
            endpoints = ["--endpoint-reconciler-type=none"]
        else:
            # The node address is a real endpoint: pods reach the API server at SERVICE_IP.
            endpoints = [
                "--endpoint-reconciler-type=lease",
                f"--kubelet-client-certificate={self.kubelet_client_cert}",
                f"--kubelet-client-key={self.kubelet_client_key}",
                "--kubelet-preferred-address-types=InternalIP",
                # The kubelet serves a certificate the cluster CA signed for the node address.
                f"--kubelet-certificate-authority={self.ca_file}",
            ]
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_client_port}",
            f"--bind-address={self.address}",
            f"--advertise-address={self.address}",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={self.serving_cert}",
            f"--tls-private-key-file={self.serving_key}",
            f"--client-ca-file={self.ca_file}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={self.sa_pub}",
            f"--service-account-signing-key-file={self.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            *endpoints,
            "--profiling=false",
            "--v=1",
        ]

    def _kcm_argv(self) -> list[str]:
        return [
            str(self.bin_dir / "kube-controller-manager"),
            f"--kubeconfig={self._kcm_kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.kcm_port}",
            f"--cert-dir={self.workdir / 'kcm-certs'}",
            f"--service-account-private-key-file={self.sa_key}",
            f"--root-ca-file={self.ca_file}",
            f"--cluster-signing-cert-file={self.ca_file}",
            f"--cluster-signing-key-file={self.ca_key_file}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--profiling=false",
            "--v=1",
        ]

    # -- probes ------------------------------------------------------------------------------

    def in_netns(self, function: Callable[[], T]) -> T:
        """Run `function` where the cluster's addresses are reachable (inside its namespace)."""
        return function() if self.netns is None else self.netns.call(function)

    def admin_ssl_context(self) -> ssl.SSLContext:
        """TLS context that trusts the cluster CA and presents the admin certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.admin_cert), str(self.admin_key))
        return context

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        """GET `path` on the API server as admin: (status, body); status 0 when unreachable."""
        request = urllib.request.Request(self.server + path)

        def fetch() -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(
                    request, timeout=timeout, context=self.admin_ssl_context()
                ) as answer:
                    return answer.status, answer.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()
            except (OSError, ssl.SSLError):
                return 0, b""

        return self.in_netns(fetch)

    def request_count(self, resource: str, verbs: Sequence[str] = WRITE_VERBS) -> float:
        """The API server's own count of requests (`apiserver_request_total`, every response
        code) on `resource` with one of `verbs` (as the metric spells them), since it started."""
        status, body = self.get("/metrics", timeout=20)
        if status != 200:
            raise ClusterError(f"kube-apiserver /metrics answered {status}")
        total = 0.0
        for line in body.decode().splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            head, _, value = line.rpartition(" ")
            found = dict(re.findall(r'(\w+)="([^"]*)"', head))
            if found.get("resource") == resource and found.get("verb") in verbs:
                total += float(value)
        return total

    def api_ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def _etcd_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.etcd_client_port}/health"

        def fetch() -> bool:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(json.loads(answer.read()).get("health") == "true")

        return self.in_netns(fetch)

    def _kcm_healthy(self) -> bool:
        url = f"https://127.0.0.1:{self.kcm_port}/healthz"
        return self.in_netns(lambda: healthz_ok(url, self_signed=True))

    def _default_service_account(self) -> bool:
        return self.get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Start everything and wait until pods can be created; stops everything on failure."""
        try:
            self.start_api()
            self.start_controller_manager()
        except BaseException:
            self.stop()
            raise
        return self

    def start_controller_manager(self) -> None:
        """Start it and wait until it makes ServiceAccounts, so namespaces can hold pods."""
        self.controller_manager.start()
        self.controller_manager.wait_until(
            self._kcm_healthy, self.start_timeout, "healthy on /healthz"
        )
        self.controller_manager.wait_until(
            self._default_service_account,
            self.start_timeout,
            "creating the default ServiceAccount",
        )

    def restart_controller_manager(self) -> None:
        """After an API outage its informers back off for up to half a minute: start afresh."""
        self.controller_manager.stop()
        self.start_controller_manager()

    def start_api(self) -> None:
        """etcd then kube-apiserver, same data dir and ports as before; waits for /readyz."""
        self.etcd.start()
        self.etcd.wait_until(self._etcd_healthy, self.start_timeout, "healthy on /health")
        self.apiserver.start()
        self.apiserver.wait_until(self.api_ready, self.start_timeout, "ready on /readyz")

    def stop_api(self) -> None:
        """kube-apiserver then etcd (the controller-manager keeps running and retries)."""
        self.apiserver.stop()
        self.etcd.stop()

    def kill_api(self) -> None:
        """SIGKILL kube-apiserver alone (etcd keeps running); `start_api` brings it back."""
        self.apiserver.kill()

    def restart_api(self) -> None:
        self.stop_api()
        self.start_api()

    def stop(self) -> None:
        """Stop every component; safe to call twice."""
        self.controller_manager.stop()
        self.stop_api()

    def logs(self) -> dict[str, str]:
        """Each component's full log, for debugging a failed test."""
        return {
            c.name: c.log.read_text(errors="replace") if c.log.exists() else ""
            for c in (self.etcd, self.apiserver, self.controller_manager)
        }

    def client_kubeconfig(
        self, user: str, groups: Sequence[str] = (), namespace: str = "default"
    ) -> Path:
        """A kubeconfig for another identity (RBAC tests): client cert CN=user, O=groups."""
        safe = "".join(ch if ch.isalnum() else "-" for ch in user)
        return write_client_kubeconfig(
            self.workdir / "users" / f"{safe}.kubeconfig",
            self.server,
            self.ca,
            user,
            groups,
            namespace,
        )

    def service_account_kubeconfig(
        self, kubectl: Kubectl, namespace: str, name: str, path: Path
    ) -> Path:
        """A kubeconfig whose only credential is a token the API server issued (TokenRequest)
        for the ServiceAccount `namespace/name`, valid for the whole test session."""
        token = kubectl("create", "token", name, "-n", namespace, "--duration=3h").stdout.strip()
        assert token.count(".") == 2, "expected a JWT from the TokenRequest API"
        user = f"system:serviceaccount:{namespace}:{name}"
        credentials = {"token": token}
        return write_kubeconfig(path, self.server, self.ca.cert_pem, credentials, user, namespace)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_control_plane(bin_dir: Path, workdir: Path) -> Iterator[ControlPlane]:
    """`with running_control_plane(build_control_plane(), tmp) as cluster: ...`."""
    cluster = ControlPlane(bin_dir, workdir)
    with cluster:
        yield cluster
