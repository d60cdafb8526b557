"""A real one-node Kubernetes cluster on this machine, inside a network namespace of its own.

Why it exists: the control-plane suites stop at the Pod the API server stored. Here a kubelet
pulls images from a private registry with the credentials pullpass injected, so a decision of
pullpass shows as `Successfully pulled image` or as the registry's refusal.

    with Node(workdir, Node.build()) as node:
        node.kubectl("get", "nodes")

Everything (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, containerd,
the kubelet, the registry and the pods) runs in the namespace `pullpass-node`, so every packet
stays on its loopback, its node address or its pod bridge. Only one node runs on a machine at a
time (a lock in /run, waited for): kubelets share the kubepods cgroups and a few fixed paths.

Teardown leaves nothing: with the scheduler stopped, pods are deleted through the API server
(grace 0), so that the kubelet does not start their sandboxes again, and what is left removed
with `crictl rmp -fa`; then the kubelet and containerd stop, their mounts under the work
directory are undone, the kubepods cgroups removed from every hierarchy, the kernel settings the
kubelet changed restored, the namespace (with its bridge and iptables rules) deleted, and the
files the components write at fixed paths removed. `stop()` reports anything that is still there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from localcluster import leftovers
from localcluster.build import (
    build_control_plane,
    build_credential_provider,
    build_images,
    build_node,
    find_helm,
    find_kubectl,
    install_host_packages,
)
from localcluster.cni import POD_CIDR, write_conflist
from localcluster.containerd import Containerd
from localcluster.control_plane import SERVICE_CIDR, ControlPlane
from localcluster.errors import ClusterError
from localcluster.kernel import KernelSettings
from localcluster.kube_proxy import KubeProxy
from localcluster.kubectl import Kubectl, KubectlError
from localcluster.kubelet import Kubelet
from localcluster.netns import NetworkNamespace, mount_is_ours_to_undo
from localcluster.node_daemon import NodeSite
from localcluster.registry import Registry
from localcluster.scheduler import Scheduler

NODE_NAME = "pullpass-node"
NETNS_NAME = "pullpass-node"
NODE_ADDRESS = "10.250.0.1"
LOCK = Path("/run/pullpass-node.lock")
# What a running node must undo (its work directory, the kernel settings and fixed paths it found),
# kept until its teardown is complete, so the next start can finish the job after a crash.
STATE = Path("/run/pullpass-node.json")
SANDBOX_IMAGE = "pullpass.local/pause:1"
# How long the teardown waits for the kubelet to stop the sandboxes of the pods it deleted.
POD_STOP_SECONDS = 15.0
# Where the node's images live in the private registry.
BUSYBOX = "127.0.0.1:5000/busybox:1"
PULLPASS_IMAGE = "127.0.0.1:5000/pullpass"
PULLPASS_TAG = "0.1.0"
# Files the kubelet and containerd write at fixed paths, whatever their directory options.
FIXED_PATHS = (
    Path("/var/lib/kubelet"),
    Path("/var/log/containers"),
    Path("/run/nri"),
    Path("/var/lib/cni"),
    Path("/opt/cni"),
    Path("/etc/cni"),
    Path("/var/lib/containers"),  # skopeo's blob-info cache, for root always there
)
FIXED_SOCKETS = (Path("/var/lib/kubelet/device-plugins/kubelet.sock"), Path("/run/nri/nri.sock"))
# Every containerd's shims put their sockets here (image builds run one too); each shim removes
# its own socket when it exits.
SHARED_PATHS = (Path("/run/containerd"),)


@dataclass(frozen=True)
class Binaries:
    """What the build scripts produced: control-plane and node binaries, saved images, helm."""

    control_plane: Path
    node: Path
    images: Path
    helm: Path
    kubectl: Path
    credential_provider: Path


def require_root() -> None:
    if os.geteuid() != 0:
        raise ClusterError(
            "a real node needs root (network namespaces, cgroups, mounts, containerd and the "
            f"kubelet); this process runs as uid {os.geteuid()}"
        )


class Node:
    """The one-node cluster; `start()` returns when the node is Ready and images are pushed."""

    @staticmethod
    def build() -> Binaries:
        """Install and build everything the node needs (instant when cached), in order."""
        require_root()
        install_host_packages()
        return Binaries(
            control_plane=build_control_plane(),
            node=build_node(),
            images=build_images(),
            helm=find_helm(),
            kubectl=find_kubectl(),
            credential_provider=build_credential_provider(),
        )

    def __init__(
        self,
        workdir: Path,
        binaries: Binaries,
        *,
        registry_users: dict[str, str] | None = None,
        images: tuple[tuple[str, str], ...] = (
            ("busybox.tar", BUSYBOX),
            ("pullpass.tar", f"{PULLPASS_IMAGE}:{PULLPASS_TAG}"),
        ),
        ready_timeout: float = 180,
        lock_timeout: float = 240,
    ) -> None:
        require_root()
        self.workdir = workdir.resolve()
        self.binaries = binaries
        self.ready_timeout = ready_timeout
        self.lock_timeout = lock_timeout
        self.images = images  # (archive in binaries.images, where it goes in the registry)
        self.logs_dir = self.workdir / "logs"
        self.netns = NetworkNamespace(NETNS_NAME, NODE_ADDRESS, routes=[SERVICE_CIDR])
        self.kernel = KernelSettings()
        self.host_paths = leftovers.HostPaths(
            self.workdir, FIXED_PATHS, FIXED_SOCKETS, SHARED_PATHS
        )
        self._lock: int | None = None
        self.started_at: float | None = None
        self.ready_after: float | None = None
        # Seconds per start and teardown step, for the measurements in docs/node.md.
        self.timings: dict[str, float] = {}
        self.control_plane = ControlPlane(
            binaries.control_plane, self.workdir / "control-plane", netns=self.netns
        )
        ca = self.control_plane.ca
        server = self.control_plane.server
        self.registry = Registry(
            self.workdir / "registry",
            self.netns,
            log=self.logs_dir / "registry.log",
            users=registry_users,
        )
        cni_dir = self.workdir / "cni"
        self.cni_conflist = write_conflist(cni_dir / "net.d", cni_dir)
        runc = shutil.which("runc") or "/usr/sbin/runc"
        self.containerd = Containerd(
            binaries.node,
            self.workdir / "containerd",
            self.netns,
            log=self.logs_dir / "containerd.log",
            cni_conf_dir=self.cni_conflist.parent,
            sandbox_image=SANDBOX_IMAGE,
            registry_host=self.registry.host,
            registry_ca=self.registry.ca_file,
            runc=Path(runc),
        )
        site = NodeSite(binaries.node, self.workdir, self.logs_dir, self.netns, server, ca)
        self.kubelet = Kubelet(
            site,
            name=NODE_NAME,
            ca_file=self.control_plane.ca_file,
            runtime_socket=self.containerd.socket,
            credential_provider=binaries.credential_provider,
        )
        self.scheduler = Scheduler(site)
        self.kube_proxy = KubeProxy(site, name=NODE_NAME, cluster_cidr=POD_CIDR)
        self.kubectl = Kubectl(
            self.control_plane.kubeconfig,
            binaries.kubectl,
            wrapper=[*self.netns.wrapper(), "env", f"KUBECACHEDIR={self.workdir / 'kube-cache'}"],
        )

    # -- start -------------------------------------------------------------------------------

    def start(self) -> Node:
        """Bring everything up and wait for a Ready node; on any failure, tear down and raise."""
        self.started_at = time.monotonic()
        self._take_lock()
        try:
            self._timed("recover", self._recover_stale)
            self.kernel.record()
            self.host_paths.record()
            self._write_state()
            self._timed("netns", self.netns.create)
            self._timed("registry", self.registry.start)
            self._timed("control plane", self.control_plane.start)
            self._timed("containerd", self.containerd.start)
            pause = self.binaries.images / "pause.tar"
            self._timed("import pause", lambda: self.containerd.import_image(pause))
            self._timed("kubelet", self.kubelet.start)
            self._timed("kube-scheduler", self.scheduler.start)
            self._timed("node registered", self._wait_for_node_object)
            self._timed("kube-proxy", self.kube_proxy.start)
            self._timed("node Ready", self._wait_ready)
            self.ready_after = time.monotonic() - self.started_at
            for archive, image in self.images:
                self._timed(f"push {image}", self._pusher(self.binaries.images / archive, image))
        except BaseException:
            self.stop()
            raise
        return self

    def _pusher(self, archive: Path, image: str) -> Callable[[], object]:
        return lambda: self.registry.push(archive, image)

    def _timed(self, what: str, action: Callable[[], object]) -> None:
        began = time.monotonic()
        try:
            action()
        finally:
            self.timings[what] = round(time.monotonic() - began, 2)

    def _take_lock(self) -> None:
        """Wait for any other node on this machine to finish (kubelets share the kubepods
        cgroups and a few fixed paths, so only one runs at a time)."""
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + self.lock_timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise ClusterError(
                        f"another node has been running on this machine for over "
                        f"{self.lock_timeout:.0f}s (it holds {LOCK}); only one runs at a time"
                    ) from None
                if not told:
                    sys.stderr.write(f"localcluster: another node holds {LOCK}; waiting\n")
                    told = True
                time.sleep(1)
        self._lock = fd

    def _write_state(self) -> None:
        state = {
            "kernel": self.kernel.recorded,
            "netns_mount": mount_is_ours_to_undo(),
            **self.host_paths.state(),
        }
        STATE.write_text(json.dumps(state))

    def _recover_stale(self) -> None:
        """A run killed before its teardown left things behind: undo them (this process holds
        the lock, so no other node is using them)."""
        stale = NetworkNamespace(NETNS_NAME, NODE_ADDRESS)
        state: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(STATE.read_text())
        if not state and not stale.path.exists():
            return
        sys.stderr.write("localcluster: cleaning up after a node that was not torn down\n")
        if stale.path.exists():
            stale.kill_processes()
        leftovers.remove_cgroups()
        if state and not leftovers.unmount_under(Path(state["workdir"])):
            _remove_bulky(Path(state["workdir"]))
        stale.unmount_netns_dir = bool(state.get("netns_mount"))
        stale.delete()
        if state:
            kernel = KernelSettings()
            kernel.recorded = dict(state.get("kernel") or {})
            kernel.restore()
            leftovers.HostPaths.from_state(state, FIXED_SOCKETS).remove()
        STATE.unlink(missing_ok=True)

    def _node(self) -> dict[str, Any] | None:
        done = self.kubectl("get", "node", NODE_NAME, "-o", "json", check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def _wait_for_node_object(self) -> None:
        self.kubelet.component.wait_until(
            lambda: self._node() is not None, self.ready_timeout, f"registering node {NODE_NAME}"
        )

    def node_ready(self) -> bool:
        node = self._node()
        conditions = (node or {}).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _wait_ready(self) -> None:
        self.kubelet.component.wait_until(
            self.node_ready, self.ready_timeout, f"reporting node {NODE_NAME} Ready"
        )

    # -- using it ----------------------------------------------------------------------------

    def helm(self, *args: str, timeout: float = 600) -> str:
        """helm against the node's API server, its cache and config under the work directory."""
        home = self.workdir / "helm"
        argv = [
            "env",
            f"HELM_CACHE_HOME={home / 'cache'}",
            f"HELM_CONFIG_HOME={home / 'config'}",
            f"HELM_DATA_HOME={home / 'data'}",
            str(self.binaries.helm),
            f"--kubeconfig={self.control_plane.kubeconfig}",
            *args,
        ]
        return self.netns.run(argv, timeout=timeout).stdout

    def logs(self) -> dict[str, Path]:
        return {log.stem: log for log in sorted(self.logs_dir.glob("*.log"))}

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Tear everything down in order; returns what could not be cleaned (empty when all is)."""
        if self._lock is None:
            return []  # never started (or already stopped): the namespace may be another run's
        problems: list[str] = []

        def step(what: str, action: Callable[[], object]) -> None:
            try:
                self._timed(f"teardown: {what}", action)
            except Exception as error:  # keep going: every later step still has to run
                problems.append(f"{what}: {error}")

        # No replacement pod (a Deployment's, a DaemonSet's) gets a place on the node any more.
        step("stop kube-scheduler", self.scheduler.stop)
        step("remove pods", self.remove_pods)
        step("stop kube-proxy", self.kube_proxy.stop)
        step("stop the kubelet", self.kubelet.stop)
        # Only now is a pod that is still there a problem: no kubelet starts it again.
        step("remove pods again", self._remove_pods_left)
        step("stop containerd", self.containerd.stop)
        step("stop the control plane", self.control_plane.stop)
        step("stop the registry", self.registry.stop)
        still_mounted = leftovers.unmount_under(self.workdir)
        problems += [f"still mounted: {m}" for m in still_mounted]
        cgroups: list[Path] = []
        step("remove cgroups", lambda: cgroups.extend(leftovers.remove_cgroups()))
        problems += [f"cgroup left: {c}" for c in cgroups]
        if self.kernel.recorded:
            self.kernel.restore()
            problems += [
                f"kernel setting {name} is {now}, was {was}"
                for name, (was, now) in self.kernel.changed().items()
            ]
        step("delete the network namespace", self.netns.delete)
        if self.netns.path.exists():
            problems.append(f"network namespace {self.netns.name} still exists")
        if self.host_paths.existed:
            problems += [f"left at a fixed path: {p}" for p in self.host_paths.remove()]
        if not problems:
            STATE.unlink(missing_ok=True)  # nothing left for a later run to undo
        if not still_mounted:
            _remove_bulky(self.workdir)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = None
        return problems

    def remove_pods(self) -> list[str]:
        """Delete every pod through the API server, at once (grace 0), wait briefly for the
        kubelet to stop their sandboxes, then `crictl rmp -fa` the rest. Returns the sandboxes
        still there. A pod the API server still holds would have its sandbox started again by
        the kubelet while crictl removes it."""
        with contextlib.suppress(KubectlError):  # no API server (a start that failed early)
            deleted = self.kubectl(
                "delete",
                "pods",
                "--all",
                "--all-namespaces",
                "--grace-period=0",
                "--force",
                "--wait=false",
                check=False,
            )
            deadline = time.monotonic() + POD_STOP_SECONDS
            while deleted.returncode == 0 and time.monotonic() < deadline:
                if not self.containerd.pods("--state=ready"):
                    break
                time.sleep(0.5)
        return self.containerd.remove_all_pods()

    def _remove_pods_left(self) -> None:
        left = self.containerd.remove_all_pods()
        if left:
            listing = self.containerd.crictl("pods", check=False)
            raise ClusterError(f"crictl rmp -fa left {len(left)} pods behind:\n{listing}")

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        problems = self.stop()
        if problems and kind is None:
            raise ClusterError("the node's teardown left things behind:\n" + "\n".join(problems))


def _remove_bulky(workdir: Path) -> None:
    """The bulky part of a work directory (images, snapshots, registry blobs, etcd's data);
    configs and logs stay for a look after the run."""
    for bulky in ("containerd", "registry/data", "kubelet/root", "control-plane/etcd-data"):
        shutil.rmtree(workdir / bulky, ignore_errors=True)
