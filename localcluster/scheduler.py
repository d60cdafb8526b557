"""kube-scheduler: without it a real node gets no pods (the control-plane suites need none)."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

from localcluster.certificates import KeyPair, issue
from localcluster.kubeconfig import client_certificate, write_kubeconfig
from localcluster.netns import NetworkNamespace
from localcluster.processes import Component

PORT = 10259


class Scheduler:
    """kube-scheduler inside `netns` on its loopback, as `system:kube-scheduler`."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        netns: NetworkNamespace,
        *,
        log: Path,
        server: str,
        ca: KeyPair,
    ) -> None:
        self.netns = netns
        identity = issue(ca, "system:kube-scheduler", client=True)
        kubeconfig = write_kubeconfig(
            workdir / "scheduler.kubeconfig",
            server,
            ca.cert_pem,
            client_certificate(identity),
            "system:kube-scheduler",
        )
        self.component = Component(
            "kube-scheduler",
            [
                str(binary),
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
            log,
            wrapper=netns.wrapper(),
        )

    def healthy(self) -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # its self-signed serving cert; /healthz is public

        def fetch() -> bool:
            url = f"https://127.0.0.1:{PORT}/healthz"
            with urllib.request.urlopen(url, timeout=2, context=context) as answer:
                return bool(answer.status == 200)

        return self.netns.call(fetch)

    def start(self, timeout: float = 60) -> None:
        self.component.start()
        self.component.wait_until(self.healthy, timeout, "healthy on /healthz")

    def stop(self) -> None:
        self.component.stop()
