"""The network namespace the one-node cluster lives in, so no packet of it leaves this machine.

Why a namespace of its own: the node's address, the pod bridge, kube-proxy's iptables rules and
every listening port exist only in there, and with no route out nothing can reach the machine's
external interface or beyond. It is made with `ip netns add`; a veth pair with both ends inside
carries the node address (dummy interfaces are not available on these machines), because the
kubelet refuses a loopback node IP. Ranges that exist only as NAT rules (the Service IPs) get a
route onto that veth: a connection made inside the namespace is routed before kube-proxy's DNAT
rewrites it, and without a route it fails with "network is unreachable"; a packet that no rule
rewrites ends at the veth's peer, still inside.

Commands enter it with `nsenter --net=/run/netns/NAME`, never `ip netns exec`: the latter also
gives each command a private mount namespace with its own /sys, where the kubelet finds no cgroup
mounts and containerd would not see the kubelet's volume mounts. Python code that talks to the
cluster (readiness probes) runs in worker threads that entered the namespace with setns(2) (the
network namespace is per thread; Python 3.11 has no `os.setns`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from localcluster.errors import ClusterError
from localcluster.processes import run_command

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)


def _mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as table:
        return {line.split()[4] for line in table}


def mount_is_ours_to_undo() -> bool:
    """Whether `ip netns add` would mount /run/netns now (it is not a mount point yet)."""
    return str(NETNS_DIR) not in _mount_points()


class NetworkNamespace:
    """A named network namespace: lo up, a veth pair inside carrying `address`, no route out."""

    def __init__(
        self,
        name: str,
        address: str = "10.250.0.1",
        prefix_length: int = 24,
        routes: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.routes = tuple(routes)
        self.path = NETNS_DIR / name
        self.address = address
        self.prefix_length = prefix_length
        # Both ends stay inside the namespace, so these names never exist on the host.
        self.interface = "node0"
        self.peer = "node1"
        self.unmount_netns_dir = False  # set by create(), or by a recovery that knows better
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def create(self) -> NetworkNamespace:
        if self.path.exists():
            raise ClusterError(
                f"network namespace {self.name} already exists (a run that did not clean up?): "
                f"`ip netns pids {self.name}` shows what is in it, `ip netns del {self.name}` "
                "removes it"
            )
        # `ip netns add` bind-mounts /run/netns onto itself the first time; undone in delete().
        self.unmount_netns_dir = mount_is_ours_to_undo()
        run_command(["ip", "netns", "add", self.name])
        try:
            address = f"{self.address}/{self.prefix_length}"
            for argv in (
                ["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", self.interface, "type", "veth", "peer", "name", self.peer],
                ["ip", "addr", "add", address, "dev", self.interface],
                ["ip", "link", "set", self.interface, "up"],
                ["ip", "link", "set", self.peer, "up"],
                *(["ip", "route", "add", cidr, "dev", self.interface] for cidr in self.routes),
            ):
                self.run(argv)
        except BaseException:
            self.delete()
            raise
        return self

    def delete(self) -> None:
        """Kill whatever still runs in it, delete it, and undo the /run/netns mount if ours."""
        if self._executor is not None:
            # Wait: a worker thread inside keeps the namespace (and its links) alive.
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self.path.exists():
            self.kill_processes()
            run_command(["ip", "netns", "del", self.name], check=False)
        if self.unmount_netns_dir and NETNS_DIR.is_dir() and not any(NETNS_DIR.iterdir()):
            run_command(["umount", str(NETNS_DIR)], check=False)
            with contextlib.suppress(OSError):
                NETNS_DIR.rmdir()
            self.unmount_netns_dir = False

    # -- entering it -------------------------------------------------------------------------

    def wrapper(self) -> list[str]:
        """The argv prefix that runs a command inside the namespace (nsenter execs it in place)."""
        return ["nsenter", f"--net={self.path}", "--"]

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 120,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace; raises with its output when `check` fails."""
        return run_command([*self.wrapper(), *argv], check=check, timeout=timeout, input=input)

    def call(self, function: Callable[[], T], timeout: float = 60) -> T:
        """Run `function` in a thread that is inside the namespace, and return its result."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=4, thread_name_prefix=f"netns-{self.name}", initializer=self._enter
            )
        return self._executor.submit(function).result(timeout)

    def _enter(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, f"setns({self.path}): {os.strerror(errno)}")
        finally:
            os.close(fd)

    # -- what is in it -----------------------------------------------------------------------

    def pids(self) -> list[int]:
        """Every process whose network namespace this is."""
        try:
            inode = self.path.stat().st_ino
        except OSError:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if (entry / "ns" / "net").stat().st_ino == inode:
                    found.append(int(entry.name))
        return found

    def kill_processes(self, grace: float = 5) -> None:
        """SIGTERM, then SIGKILL, every process still inside (a shim left by a crashed run)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self.pids():
                return
