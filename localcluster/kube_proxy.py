"""kube-proxy in iptables mode: Service IPs work inside the node's namespace.

Why: the API server calls pullpass through its Service (a ClusterIP), and pods reach the API
server at the `kubernetes` Service IP; both need kube-proxy's NAT rules. Its iptables rules live in
the node's namespace only. The conntrack settings are 0 ("leave as is"): the conntrack table size
and timeouts are machine-wide, and a test node must not change them.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import yaml

from localcluster.certificates import KeyPair, issue
from localcluster.kubeconfig import client_certificate, write_kubeconfig
from localcluster.netns import NetworkNamespace
from localcluster.processes import Component

HEALTHZ_PORT = 10256
METRICS_PORT = 10249


class KubeProxy:
    """kube-proxy for node `name` inside `netns`, as `system:kube-proxy` (system:node-proxier)."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        netns: NetworkNamespace,
        *,
        log: Path,
        name: str,
        server: str,
        ca: KeyPair,
        cluster_cidr: str,
    ) -> None:
        self.netns = netns
        identity = issue(ca, "system:kube-proxy", client=True)
        kubeconfig = write_kubeconfig(
            workdir / "kube-proxy.kubeconfig",
            server,
            ca.cert_pem,
            client_certificate(identity),
            "system:kube-proxy",
        )
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "bindAddress": netns.address,
            "healthzBindAddress": f"127.0.0.1:{HEALTHZ_PORT}",
            "metricsBindAddress": f"127.0.0.1:{METRICS_PORT}",
            "hostnameOverride": name,
            "clusterCIDR": cluster_cidr,
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            # No route_localnet sysctl: NodePorts on 127.0.0.1 are not needed.
            "iptables": {"localhostNodePorts": False, "minSyncPeriod": "0s"},
        }
        self.config = workdir / "kube-proxy.yaml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        self.component = Component(
            "kube-proxy",
            [str(binary), f"--config={self.config}", "--v=1"],
            log,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            wrapper=netns.wrapper(),
        )

    def healthy(self) -> bool:
        """/healthz is 200 once the rules are synced for the first time."""

        def fetch() -> bool:
            url = f"http://127.0.0.1:{HEALTHZ_PORT}/healthz"
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return bool(answer.status == 200)
            except urllib.error.HTTPError:
                return False

        return self.netns.call(fetch)

    def start(self, timeout: float = 60) -> None:
        self.component.start()
        self.component.wait_until(self.healthy, timeout, "healthy on /healthz")

    def stop(self) -> None:
        self.component.stop()
