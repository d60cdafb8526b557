"""The kubelet of the one node, configured for this kind of machine (cgroup v1, no systemd).

Why each setting:
- `failCgroupV1: false`: kubelet 1.35+ refuses cgroup v1 without it; `cgroupDriver: cgroupfs`.
- loose eviction thresholds and image GC at 100/99: the disk is shared with other work and must
  not evict test pods or collect the images they pulled;
- `--root-dir`, `podLogsDir` and an empty `resolvConf` under the work directory: nothing of the
  pods' state lands in /var/lib/kubelet or /var/log/pods, and pods get no nameserver outside;
- the node's client certificate (CN `system:node:<name>`, O `system:nodes`) lets the Node
  authorizer admit it; its serving certificate, signed by the cluster CA for the node address,
  lets the API server verify it for `kubectl logs` and `exec`;
- `--node-ip`: the node address inside the namespace (a node IP cannot be loopback).
The kubelet's image credential verification stays on (the default): a pod without the right
credential cannot use an image that another pod pulled.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from localcluster.certificates import issue, write_pair
from localcluster.node_daemon import SYSTEM_PATH, NodeDaemon, NodeSite

HEALTHZ_PORT = 10248


class Kubelet(NodeDaemon):
    """The kubelet for node `name` at the node address, talking to containerd at
    `runtime_socket`."""

    def __init__(self, site: NodeSite, *, name: str, ca_file: Path, runtime_socket: Path) -> None:
        workdir = site.workdir / "kubelet"
        self.root_dir = workdir / "root"
        self.pod_logs_dir = workdir / "pod-logs"
        pki = workdir / "pki"
        self.kubeconfig = site.kubeconfig(
            workdir / "kubelet.kubeconfig", f"system:node:{name}", ["system:nodes"]
        )
        serving = issue(site.ca, f"system:node:{name}", hosts=[site.netns.address, name])
        cert, key = write_pair(serving, pki, "kubelet")
        resolv_conf = workdir / "resolv.conf"
        resolv_conf.write_text("")
        endpoint = f"unix://{runtime_socket}"
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "containerRuntimeEndpoint": endpoint,
            "imageServiceEndpoint": endpoint,
            "failSwapOn": False,
            "address": site.netns.address,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": HEALTHZ_PORT,
            "tlsCertFile": str(cert),
            "tlsPrivateKeyFile": str(key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(ca_file)},
            },
            "authorization": {"mode": "Webhook"},
            "clusterDomain": "cluster.local",
            "resolvConf": str(resolv_conf),
            "podLogsDir": str(self.pod_logs_dir),
            "evictionHard": {
                "memory.available": "50Mi",
                "nodefs.available": "2%",
                "nodefs.inodesFree": "2%",
                "imagefs.available": "2%",
                "imagefs.inodesFree": "2%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "rotateCertificates": False,
            "serverTLSBootstrap": False,
            "protectKernelDefaults": False,
        }
        self.config = workdir / "kubelet.yaml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        super().__init__(
            site,
            "kubelet",
            [
                f"--config={self.config}",
                f"--kubeconfig={self.kubeconfig}",
                f"--root-dir={self.root_dir}",
                f"--node-ip={site.netns.address}",
                f"--hostname-override={name}",
                "--v=1",
            ],
            healthz=f"http://127.0.0.1:{HEALTHZ_PORT}/healthz",
            env=SYSTEM_PATH,
            stop_grace=15,
        )

    def start(self, timeout: float = 120) -> None:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        super().start(timeout)
