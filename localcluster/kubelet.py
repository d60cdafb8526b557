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

import urllib.request
from pathlib import Path

import yaml

from localcluster.certificates import KeyPair, issue, write_pair
from localcluster.kubeconfig import client_certificate, write_kubeconfig
from localcluster.netns import NetworkNamespace
from localcluster.processes import Component

HEALTHZ_PORT = 10248


class Kubelet:
    """The kubelet for node `name` at `netns.address`, talking to containerd at `runtime_socket`."""

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
        ca_file: Path,
        runtime_socket: Path,
    ) -> None:
        self.name = name
        self.netns = netns
        self.dir = workdir
        self.root_dir = workdir / "root"
        self.pod_logs_dir = workdir / "pod-logs"
        pki = workdir / "pki"
        client = issue(ca, f"system:node:{name}", organizations=["system:nodes"], client=True)
        self.kubeconfig = write_kubeconfig(
            workdir / "kubelet.kubeconfig",
            server,
            ca.cert_pem,
            client_certificate(client),
            f"system:node:{name}",
        )
        serving = issue(ca, f"system:node:{name}", hosts=[netns.address, name])
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
            "address": netns.address,
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
        self.component = Component(
            "kubelet",
            [
                str(binary),
                f"--config={self.config}",
                f"--kubeconfig={self.kubeconfig}",
                f"--root-dir={self.root_dir}",
                f"--node-ip={netns.address}",
                f"--hostname-override={name}",
                "--v=1",
            ],
            log,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            wrapper=netns.wrapper(),
        )

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{HEALTHZ_PORT}/healthz"

        def fetch() -> bool:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(answer.status == 200)

        return self.netns.call(fetch)

    def start(self, timeout: float = 120) -> None:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.component.start()
        self.component.wait_until(self.healthy, timeout, "healthy on /healthz")

    def stop(self) -> None:
        self.component.stop(grace=15)
