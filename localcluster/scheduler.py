"""kube-scheduler: without it a real node gets no pods (the control-plane suites need none)."""

from __future__ import annotations

from localcluster.node_daemon import NodeDaemon, NodeSite

PORT = 10259


class Scheduler(NodeDaemon):
    """kube-scheduler inside the node's namespace on its loopback, as `system:kube-scheduler`."""

    def __init__(self, site: NodeSite) -> None:
        workdir = site.workdir / "scheduler"
        kubeconfig = site.kubeconfig(workdir / "scheduler.kubeconfig", "system:kube-scheduler")
        super().__init__(
            site,
            "kube-scheduler",
            [
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={PORT}",
                f"--cert-dir={workdir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ],
            # Its self-signed serving certificate; /healthz is public.
            healthz=f"https://127.0.0.1:{PORT}/healthz",
            self_signed=True,
        )
