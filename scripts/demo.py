"""`make demo`: a local control plane, pullpass registered as its webhook, examples/ applied.

Prints the Pod as the user wrote it next to the Pod the API server stored, then keeps everything
running until Ctrl-C so you can try your own pods with the printed KUBECONFIG. `--once` stops
after printing (the end-to-end suite runs it that way).
"""

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localcluster.build import build_control_plane  # noqa: E402
from localcluster.control_plane import ControlPlane  # noqa: E402
from localcluster.kubectl import Kubectl  # noqa: E402
from localcluster.webhook import Pullpass, webhook_configuration  # noqa: E402

EXAMPLES = REPO / "examples"
CREDENTIALS_NAMESPACE = "pullpass-system"


def say(text: str) -> None:
    print(text, flush=True)


def pull_secrets(pod: dict[str, Any]) -> list[str]:
    return [s["name"] for s in pod["spec"].get("imagePullSecrets") or ()]


def wait_until_called(kubectl: Kubectl, pod_file: Path, timeout: float = 30) -> dict[str, Any]:
    """The API server loads webhook configurations asynchronously: dry-run until it calls us."""
    deadline = time.monotonic() + timeout
    while True:
        done = kubectl("create", "--dry-run=server", "-o", "json", "-f", str(pod_file), check=False)
        if done.returncode == 0 and pull_secrets(json.loads(done.stdout)):
            return dict(json.loads(done.stdout))
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: the API server did not call pullpass within {timeout}s")
        time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after printing the result")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-demo-"))
    say("1/4 building or reusing the pinned control plane (first build takes minutes)...")
    cluster = ControlPlane(build_control_plane(), workdir)
    say("2/4 starting etcd, kube-apiserver and kube-controller-manager on 127.0.0.1...")
    cluster.start()
    kubectl = Kubectl(cluster.kubeconfig)
    kubectl("create", "namespace", CREDENTIALS_NAMESPACE)
    server = Pullpass(cluster.kubeconfig, workdir, credentials_namespace=CREDENTIALS_NAMESPACE)
    try:
        say("3/4 starting pullpass and registering it as a mutating webhook...")
        server.start()
        kubectl.apply(webhook_configuration("pullpass", server.url, server.ca_pem))
        say("4/4 kubectl apply -f examples/ ...")
        for name in ("namespace.yaml", "credential.yaml"):
            kubectl("apply", "-f", str(EXAMPLES / name))
        wait_until_called(kubectl, EXAMPLES / "pod.yaml")
        kubectl("apply", "-f", str(EXAMPLES / "pod.yaml"))
        written = yaml.safe_load((EXAMPLES / "pod.yaml").read_text())
        stored = kubectl.json("get", "pod", "app", "-n", written["metadata"]["namespace"])
        say("")
        say(f"examples/pod.yaml (what you wrote):   imagePullSecrets: {pull_secrets(written)}")
        say(f"the Pod the API server stored:        imagePullSecrets: {pull_secrets(stored)}")
        injected = stored["metadata"].get("annotations", {}).get("pullpass.io/injected")
        say(f"annotation pullpass.io/injected:      {injected!r}")
        say("")
        say(f"Try it yourself:  export KUBECONFIG={cluster.kubeconfig}")
        say(f"                  {Kubectl(cluster.kubeconfig).binary} get pod app -n team-a -o yaml")
        if args.once:
            return 0 if pull_secrets(stored) == ["testquay"] else 1
        say("Everything runs until you press Ctrl-C here, which stops it all and cleans up.")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping pullpass and the control plane...")
        server.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
