"""What the node's Kubernetes daemons (the kubelet, kube-scheduler, kube-proxy) have in common.

Each runs inside the node's network namespace with a client certificate of its own for the API
server, logs to `<name>.log`, and counts as started once its /healthz on the namespace's
loopback answers 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from localcluster.certificates import KeyPair
from localcluster.healthz import healthz_ok
from localcluster.kubeconfig import write_client_kubeconfig
from localcluster.netns import NetworkNamespace
from localcluster.processes import Component

# The kubelet and kube-proxy run iptables, mount and the like: only the system's own binaries.
SYSTEM_PATH = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


@dataclass(frozen=True)
class NodeSite:
    """Where the node's daemons run and whom they report to."""

    bin_dir: Path  # the node binaries, one per daemon name
    workdir: Path  # a directory per daemon below it
    logs_dir: Path
    netns: NetworkNamespace
    server: str  # the API server
    ca: KeyPair  # the cluster CA, which signs the daemons' client certificates

    def kubeconfig(self, path: Path, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig for the API server as `user` (client certificate CN), in `groups`."""
        return write_client_kubeconfig(path, self.server, self.ca, user, groups)


class NodeDaemon:
    """The process `site.bin_dir/name ARGS` inside the namespace, and its /healthz URL."""

    def __init__(
        self,
        site: NodeSite,
        name: str,
        args: Sequence[str],
        *,
        healthz: str,
        self_signed: bool = False,
        env: dict[str, str] | None = None,
        stop_grace: float = 10,
    ) -> None:
        self.netns = site.netns
        self.healthz = healthz
        self.self_signed = self_signed
        self.stop_grace = stop_grace
        self.component = Component(
            name,
            [str(site.bin_dir / name), *args],
            site.logs_dir / f"{name}.log",
            env=env,
            wrapper=site.netns.wrapper(),
        )

    def healthy(self) -> bool:
        return self.netns.call(lambda: healthz_ok(self.healthz, self_signed=self.self_signed))

    def start(self, timeout: float = 60) -> None:
        self.component.start()
        self.component.wait_until(self.healthy, timeout, "healthy on /healthz")

    def stop(self) -> None:
        self.component.stop(grace=self.stop_grace)
