"""kube-proxy in iptables mode: Service IPs work inside the node's namespace.

Why: the API server calls pullpass through its Service (a ClusterIP), and pods reach the API
server at the `kubernetes` Service IP; both need kube-proxy's NAT rules. Its iptables rules live in
the node's namespace only. The conntrack settings are 0 ("leave as is"): the conntrack table size
and timeouts are machine-wide, and a test node must not change them.
"""

from __future__ import annotations

import yaml

from localcluster.node_daemon import SYSTEM_PATH, NodeDaemon, NodeSite

HEALTHZ_PORT = 10256
METRICS_PORT = 10249


class KubeProxy(NodeDaemon):
    """kube-proxy for node `name` inside the node's namespace, as `system:kube-proxy`
    (system:node-proxier); /healthz is 200 once the rules are synced for the first time."""

    def __init__(self, site: NodeSite, *, name: str, cluster_cidr: str) -> None:
        workdir = site.workdir / "kube-proxy"
        kubeconfig = site.kubeconfig(workdir / "kube-proxy.kubeconfig", "system:kube-proxy")
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "bindAddress": site.netns.address,
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
        super().__init__(
            site,
            "kube-proxy",
            [f"--config={self.config}", "--v=1"],
            healthz=f"http://127.0.0.1:{HEALTHZ_PORT}/healthz",
            env=SYSTEM_PATH,
        )
