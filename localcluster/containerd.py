"""containerd 2 as the node's container runtime, everything it keeps under the work directory.

Why each setting (all seen necessary on these machines):
- `restrict_oom_score_adj`: the VM forbids lowering `oom_score_adj`; without it runc fails every
  sandbox with `can't get final child's PID from pipe: EOF`.
- `disable_apparmor`, `SystemdCgroup = false`: no AppArmor and no systemd; the kubelet uses the
  cgroupfs driver on cgroup v1.
- `pinned_images.sandbox`: there is no registry.k8s.io; the pause image is built here and imported
  with `ctr`, and pinning keeps image GC away from it.
- `registry.config_path`: a `certs.d` directory whose `hosts.toml` trusts the private registry's
  CA, so pulls verify TLS instead of skipping it.
- `netns_mounts_under_state_dir`: pod network namespaces stay under the work directory, not in
  /run/netns; NRI is disabled, so no /run/nri/nri.sock; the `opt` plugin and runc's state are
  pointed at the work directory.
"""

from __future__ import annotations

import time
from pathlib import Path

from localcluster.netns import NetworkNamespace
from localcluster.processes import Component, run_command

K8S_NAMESPACE = "k8s.io"


def _toml_string(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Containerd:
    """containerd inside `netns`, its socket, root and state under `workdir`."""

    def __init__(
        self,
        bin_dir: Path,
        workdir: Path,
        netns: NetworkNamespace,
        *,
        log: Path,
        cni_conf_dir: Path,
        sandbox_image: str,
        registry_host: str,
        registry_ca: Path,
        runc: Path,
        cni_bin_dir: Path = Path("/usr/lib/cni"),
    ) -> None:
        self.bin_dir = bin_dir
        self.dir = workdir
        self.netns = netns
        self.socket = workdir / "containerd.sock"
        self.sandbox_image = sandbox_image
        self.config = workdir / "config.toml"
        certs_d = workdir / "certs.d"
        self._write_hosts_toml(certs_d, registry_host, registry_ca)
        self._write_config(certs_d, cni_conf_dir, cni_bin_dir, runc)
        self.component = Component(
            "containerd",
            [str(bin_dir / "containerd"), f"--config={self.config}", "--log-level=info"],
            log,
            # The shim is found on PATH; runc is named by its full path in the config.
            env={"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"},
            wrapper=netns.wrapper(),
        )

    def _write_hosts_toml(self, certs_d: Path, host: str, ca: Path) -> None:
        directory = certs_d / host
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts.toml").write_text(
            f"server = {_toml_string('https://' + host)}\n\n"
            f"[host.{_toml_string('https://' + host)}]\n"
            '  capabilities = ["pull", "resolve"]\n'
            f"  ca = {_toml_string(ca)}\n"
        )

    def _write_config(
        self, certs_d: Path, cni_conf_dir: Path, cni_bin_dir: Path, runc: Path
    ) -> None:
        d = self.dir
        runtime = '[plugins."io.containerd.cri.v1.runtime"'
        self.config.write_text(
            f"""version = 3
root = {_toml_string(d / "root")}
state = {_toml_string(d / "state")}

[grpc]
  address = {_toml_string(self.socket)}

[ttrpc]
  address = {_toml_string(str(self.socket) + ".ttrpc")}

[plugins."io.containerd.internal.v1.opt"]
  path = {_toml_string(d / "opt")}

[plugins."io.containerd.nri.v1.nri"]
  disable = true

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

{runtime}]
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  enable_selinux = false

{runtime}.containerd]
  default_runtime_name = "runc"

{runtime}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

{runtime}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = {_toml_string(runc)}
  Root = {_toml_string(d / "runc")}

{runtime}.cni]
  bin_dirs = [{_toml_string(cni_bin_dir)}]
  conf_dir = {_toml_string(cni_conf_dir)}

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = {_toml_string(self.sandbox_image)}

[plugins."io.containerd.cri.v1.images".registry]
  config_path = {_toml_string(certs_d)}
"""
        )

    # -- tools -------------------------------------------------------------------------------

    def ctr(self, *args: str, timeout: float = 300) -> str:
        argv = [str(self.bin_dir / "ctr"), f"--address={self.socket}", "-n", K8S_NAMESPACE, *args]
        return self.netns.run(argv, timeout=timeout).stdout

    def crictl(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        endpoint = f"unix://{self.socket}"
        argv = [
            str(self.bin_dir / "crictl"),
            f"--runtime-endpoint={endpoint}",
            f"--image-endpoint={endpoint}",
            "--timeout=60s",
            *args,
        ]
        return self.netns.run(argv, check=check, timeout=timeout).stdout

    def import_image(self, archive: Path) -> None:
        """Import a saved image (a docker archive) for the CRI; only the pause image comes so."""
        self.ctr("images", "import", "--local", str(archive))

    def images(self) -> list[str]:
        return self.ctr("images", "list", "--quiet").split()

    # -- lifecycle ---------------------------------------------------------------------------

    def _ready(self) -> bool:
        argv = [str(self.bin_dir / "ctr"), f"--address={self.socket}", "version"]
        return run_command([*self.netns.wrapper(), *argv], check=False, timeout=10).returncode == 0

    def start(self, timeout: float = 60) -> None:
        self.component.start()
        self.component.wait_until(self._ready, timeout, "answering on its socket")

    def pods(self, *options: str) -> list[str]:
        """The ids of the pod sandboxes containerd holds (`options` filter, e.g. `--state=ready`);
        none when it does not answer."""
        if not self.component.running():
            return []
        return self.crictl("pods", "--quiet", *options, check=False).split()

    def remove_all_pods(self) -> list[str]:
        """`crictl rmp -fa`: stop and remove every pod sandbox with its containers. Returns the
        ids still there: a running kubelet may start a sandbox again meanwhile."""
        left = self.pods()
        for _ in range(3):
            if not left:
                break
            self.crictl("rmp", "--force", "--all", check=False, timeout=180)
            left = self.pods()
            if left:
                time.sleep(1)
        return left

    def stop(self) -> None:
        self.component.stop(grace=15)
