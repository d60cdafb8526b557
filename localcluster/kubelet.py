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

Secretless mode: the kubelet runs pullpass's credential provider plugin for images under
`SECRETLESS_IMAGES` only (`matchImages`; every other test pulls with `imagePullSecrets` alone),
with a pod-bound token for `AUDIENCE`, as the chart's CredentialProviderConfig sets it. The
plugin presents the kubelet's own client certificate (copied out of its kubeconfig into one PEM,
as kubeadm keeps it) and reads its settings from `credential_settings`, which a test writes once
pullpass's Service exists, as the chart's DaemonSet does on a real node.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import yaml

from localcluster.certificates import issue, write_pair
from localcluster.node_daemon import SYSTEM_PATH, NodeDaemon, NodeSite

HEALTHZ_PORT = 10248
PLUGIN = "pullpass-credential-provider"
AUDIENCE = "pullpass.io/credentials"
SECRETLESS_IMAGES = "127.0.0.1:5000/secretless"


class Kubelet(NodeDaemon):
    """The kubelet for node `name` at the node address, talking to containerd at
    `runtime_socket`."""

    def __init__(
        self,
        site: NodeSite,
        *,
        name: str,
        ca_file: Path,
        runtime_socket: Path,
        credential_provider: Path,
    ) -> None:
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
        self.client_pem = pki / "kubelet-client-current.pem"
        self.credential_settings = workdir / f"{PLUGIN}.json"
        plugin_dir, plugin_config = self._credential_provider(workdir, credential_provider)
        super().__init__(
            site,
            "kubelet",
            [
                f"--config={self.config}",
                f"--kubeconfig={self.kubeconfig}",
                f"--root-dir={self.root_dir}",
                f"--node-ip={site.netns.address}",
                f"--hostname-override={name}",
                f"--image-credential-provider-config={plugin_config}",
                f"--image-credential-provider-bin-dir={plugin_dir}",
                "--v=1",
            ],
            healthz=f"http://127.0.0.1:{HEALTHZ_PORT}/healthz",
            env=SYSTEM_PATH,
            stop_grace=15,
        )

    def start(self, timeout: float = 120) -> None:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        super().start(timeout)

    def _credential_provider(self, workdir: Path, plugin: Path) -> tuple[Path, Path]:
        """The plugin's directory and the CredentialProviderConfig, as the chart renders it."""
        user = yaml.safe_load(self.kubeconfig.read_text())["users"][0]["user"]
        self.client_pem.write_bytes(
            base64.b64decode(user["client-certificate-data"])
            + base64.b64decode(user["client-key-data"])
        )
        self.client_pem.chmod(0o600)
        plugin_dir = workdir / "credential-provider-bin"
        plugin_dir.mkdir(parents=True, exist_ok=True)
        self.plugin = plugin_dir / PLUGIN
        shutil.copy2(plugin, self.plugin)
        provider = {
            "name": PLUGIN,
            "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
            "matchImages": [SECRETLESS_IMAGES],
            "defaultCacheDuration": "5s",
            "args": [f"--settings={self.credential_settings}"],
            "tokenAttributes": {
                "serviceAccountTokenAudience": AUDIENCE,
                "requireServiceAccount": True,
                "cacheType": "ServiceAccount",
            },
        }
        config = workdir / "credential-provider-config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1",
                    "kind": "CredentialProviderConfig",
                    "providers": [provider],
                },
                sort_keys=False,
            )
        )
        return plugin_dir, config
