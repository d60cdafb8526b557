"""`make demo`: pullpass on a real node, or, without root, on a local control plane.

As root: a one-node cluster (scripts/node, scripts/images) in a network namespace of its own, a
private registry in it, pullpass installed with `helm install charts/pullpass` from its own image,
then examples/ applied. It prints the pod pullpass served (Running, `Successfully pulled image`)
next to a control pod outside pullpass's scope (the registry's refusal), then switches to
secretless mode alone and shows a pod that names no Secret pulled by the kubelet's plugin.

Without root: what the node needs, then today's control-plane result: the Pod as the user wrote
it next to the Pod the API server stored, with pullpass registered as its webhook.

Either way it keeps everything running until Ctrl-C so you can try your own pods; `--once` stops
after printing and leaves nothing running (the end-to-end suite runs it that way).
"""

import argparse
import json
import os
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

from localcluster import release  # noqa: E402
from localcluster.build import build_control_plane  # noqa: E402
from localcluster.control_plane import ControlPlane  # noqa: E402
from localcluster.kubectl import Kubectl  # noqa: E402
from localcluster.node import BUSYBOX, Node  # noqa: E402
from localcluster.webhook import Pullpass, webhook_configuration  # noqa: E402

EXAMPLES = REPO / "examples"
CREDENTIALS_NAMESPACE = "pullpass-system"
# Measured on this project's 2-core machine (docs/build-costs.md): about 17 min from an empty
# cache when the machine is quiet; the parts took up to 9 (control plane), 13 (node) and 5 min
# (images) under load.
FIRST_BUILD_NODE = (
    "pullpass demo: the first run builds everything once, about 17 to 30 minutes on 2 cores "
    "(control plane, node binaries, images); later runs take about 2 minutes."
)
FIRST_BUILD_CONTROL_PLANE = (
    "pullpass demo: the first run builds the control plane once, about 9 minutes on 2 cores; "
    "later runs take seconds."
)
NODE_NEEDS = """\
A real node (a kubelet pulling from a private registry with what pullpass injected) needs:
  - root: a network namespace of its own, cgroups, mounts, containerd and the kubelet;
  - Debian's runc, containernetworking-plugins, docker-registry, apache2-utils, docker.io,
    mmdebstrap and skopeo (scripts/host-packages installs them);
  - Go, for scripts/node and scripts/control-plane (pinned builds, cached).
Run `sudo make demo` for that. Showing today's control-plane result instead:"""
# The demo registry's account, the one examples/node/credential.yaml holds.
DEMO_USER, DEMO_PASSWORD = "demo", "example-only"


def say(text: str = "") -> None:
    print(text, flush=True)


def pull_secrets(pod: dict[str, Any]) -> list[str]:
    return [s["name"] for s in pod["spec"].get("imagePullSecrets") or ()]


def wait_until_injected(
    kubectl: Kubectl, pod_file: Path, timeout: float = 60, wanted: str | None = None
) -> dict[str, Any]:
    """The API server loads webhook configurations, and pullpass its index, asynchronously:
    dry-run until the pod gets the credential `wanted` (any, when None)."""
    deadline = time.monotonic() + timeout
    while True:
        done = kubectl("create", "--dry-run=server", "-o", "json", "-f", str(pod_file), check=False)
        if done.returncode == 0:
            pod = dict(json.loads(done.stdout))
            names = pull_secrets(pod)
            if names and (wanted is None or wanted in names):
                return pod
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: pullpass did not serve {pod_file.name} within {timeout}s")
        time.sleep(0.3)


def show_dry_run(kubectl: Kubectl) -> list[str]:
    """examples/pod.yaml as written next to what the API server stores (a server-side dry run)."""
    written = yaml.safe_load((EXAMPLES / "pod.yaml").read_text())
    stored = wait_until_injected(kubectl, EXAMPLES / "pod.yaml", wanted="testquay")
    say(f"examples/pod.yaml (what you wrote):   imagePullSecrets: {pull_secrets(written)}")
    say(f"the Pod the API server stored:        imagePullSecrets: {pull_secrets(stored)}")
    injected = stored["metadata"].get("annotations", {}).get("pullpass.io/injected")
    say(f"annotation pullpass.io/injected:      {injected!r}")
    return pull_secrets(stored)


def keep_running() -> None:
    say("Everything runs until you press Ctrl-C here, which stops it all and cleans up.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


# -- without root: today's control-plane result ------------------------------------------------


def control_plane_demo(once: bool) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-demo-"))
    say("1/4 building or reusing the pinned control plane...")
    cluster = ControlPlane(build_control_plane(), workdir)
    say("2/4 starting etcd, kube-apiserver and kube-controller-manager on 127.0.0.1...")
    cluster.start()
    kubectl = Kubectl(cluster.kubeconfig)
    server = Pullpass(cluster.kubeconfig, workdir, credentials_namespace=CREDENTIALS_NAMESPACE)
    try:
        kubectl("create", "namespace", CREDENTIALS_NAMESPACE)
        say("3/4 starting pullpass and registering it as a mutating webhook...")
        server.start()
        kubectl.apply(webhook_configuration("pullpass", server.url, server.ca_pem))
        say("4/4 kubectl apply -f examples/ ...")
        for name in ("namespace.yaml", "credential.yaml"):
            kubectl("apply", "-f", str(EXAMPLES / name))
        wait_until_injected(kubectl, EXAMPLES / "pod.yaml")
        kubectl("apply", "-f", str(EXAMPLES / "pod.yaml"))
        written = yaml.safe_load((EXAMPLES / "pod.yaml").read_text())
        stored = kubectl.json("get", "pod", "app", "-n", written["metadata"]["namespace"])
        say()
        say(f"examples/pod.yaml (what you wrote):   imagePullSecrets: {pull_secrets(written)}")
        say(f"the Pod the API server stored:        imagePullSecrets: {pull_secrets(stored)}")
        injected = stored["metadata"].get("annotations", {}).get("pullpass.io/injected")
        say(f"annotation pullpass.io/injected:      {injected!r}")
        say()
        say(f"Try it yourself:  export KUBECONFIG={cluster.kubeconfig}")
        say(f"                  {kubectl.binary} get pod app -n team-a -o yaml")
        if once:
            return 0 if pull_secrets(stored) == ["testquay"] else 1
        keep_running()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping pullpass and the control plane...")
        server.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- as root: a real node ----------------------------------------------------------------------


def apply_until_admitted(kubectl: Kubectl, path: Path, timeout: float = 60) -> None:
    """`kubectl apply -f`, again while a new namespace's default ServiceAccount is not made yet."""
    deadline = time.monotonic() + timeout
    while True:
        done = kubectl("apply", "-f", str(path), check=False)
        if done.returncode == 0:
            return
        if "serviceaccount" not in done.stderr or time.monotonic() > deadline:
            raise SystemExit(f"demo: kubectl apply -f {path} failed: {done.stderr.strip()}")
        time.sleep(0.5)


def pull_outcome(
    kubectl: Kubectl, namespace: str, pod: str, timeout: float = 120
) -> dict[str, Any]:
    """The pod once its image pull has an outcome: Running, or waiting after a failed pull."""
    deadline = time.monotonic() + timeout
    while True:
        stored = kubectl.json("get", "pod", pod, "-n", namespace)
        status = stored.get("status", {})
        waiting = [
            s["state"]["waiting"].get("reason")
            for s in status.get("containerStatuses") or []
            if "waiting" in s.get("state", {})
        ]
        if status.get("phase") == "Running" and not waiting:
            return dict(stored)
        if {"ErrImagePull", "ImagePullBackOff"} & set(waiting) or time.monotonic() > deadline:
            return dict(stored)
        time.sleep(0.5)


def show_pod(kubectl: Kubectl, namespace: str, pod: str, title: str) -> tuple[str, list[str]]:
    stored = pull_outcome(kubectl, namespace, pod)
    status = stored.get("status", {})
    waiting = [
        s["state"]["waiting"].get("reason", "")
        for s in status.get("containerStatuses") or []
        if "waiting" in s.get("state", {})
    ]
    phase = status.get("phase", "?") + (f" ({', '.join(waiting)})" if waiting else "")
    events = kubectl.json(
        "get", "events", "-n", namespace, f"--field-selector=involvedObject.name={pod}"
    )["items"]
    messages = [
        f"{e.get('reason')}: {e.get('message')}"
        for e in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        if e.get("reason") in {"Pulling", "Pulled", "Failed"}
    ]
    say(f"{namespace}/{pod}: {title}")
    say(f"  imagePullSecrets: {pull_secrets(stored)}   phase: {phase}")
    for message in messages:
        say(f"  event {message}")
    return phase, messages


def secretless_demo(installed: release.Release, kubectl: Kubectl) -> bool:
    """Secretless mode alone (the webhook off, so nothing can name a Secret in the pod): the
    kubelet's plugin asks pullpass for the pod. The webhook's opt-out label would hold in this
    mode too, so turning the webhook off is what shows the plugin's work."""
    say()
    say("6/6 secretless mode alone: helm upgrade --set credentialProvider.enabled=true \\")
    say("    --set webhook.enabled=false; the kubelet's plugin asks pullpass with the pod's token")
    say("    (docs/secretless.md)")
    installed.upgrade(*release.SECRETLESS, "webhook.enabled=false")
    installed.write_plugin_settings()
    registry = installed.node.registry
    image = registry.copy(BUSYBOX, f"{registry.host}/secretless/hello:1")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello-secretless", "namespace": "team-a"},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "app", "image": image, "command": ["sh", "-c", "sleep 3600"]}],
        },
    }
    kubectl.apply(pod)
    phase, events = show_pod(
        kubectl, "team-a", "hello-secretless", "no webhook: secretless mode served it"
    )
    stored = kubectl.json("get", "pod", "hello-secretless", "-n", "team-a")
    return (
        phase == "Running"
        and not pull_secrets(stored)
        and any("Successfully pulled image" in m for m in events)
    )


def node_demo(once: bool) -> int:
    say("1/6 building or reusing the node: scripts/host-packages, control-plane, node, images...")
    binaries = Node.build()
    workdir = Path(tempfile.mkdtemp(prefix="pullpass-demo-"))
    node = Node(
        workdir,
        binaries,
        registry_users={DEMO_USER: DEMO_PASSWORD, release.REGISTRY_USER: os.urandom(12).hex()},
    )
    try:
        say("2/6 starting the node in network namespace pullpass-node (10.250.0.1)...")
        node.start()
        say(f"    node Ready after {node.ready_after:.0f}s; images pushed to 127.0.0.1:5000")
        say("3/6 helm install pullpass charts/pullpass (image 127.0.0.1:5000/pullpass:0.1.0)...")
        began = time.monotonic()
        installed = release.install(node)
        say(f"    both replicas Ready and called by the API server after "
            f"{time.monotonic() - began:.0f}s")  # fmt: skip
        kubectl = node.kubectl
        say("4/6 kubectl apply -f examples/ ...")
        for path in (EXAMPLES / "namespace.yaml", EXAMPLES / "credential.yaml"):
            kubectl("apply", "-f", str(path))
        kubectl("apply", "-f", str(EXAMPLES / "node" / "credential.yaml"))
        say()
        today = show_dry_run(kubectl)
        say("(examples/pod.yaml ran as a server-side dry run: its images are on the internet)")
        wait_until_injected(kubectl, EXAMPLES / "node" / "pod.yaml", wanted="local-registry")
        kubectl("apply", "-f", str(EXAMPLES / "node" / "pod.yaml"))
        apply_until_admitted(kubectl, EXAMPLES / "node" / "control.yaml")
        say()
        say("5/6 what the kubelet did:")
        served_phase, served = show_pod(kubectl, "team-a", "hello", "pullpass served it")
        logs = kubectl("logs", "hello", "-n", "team-a", check=False).stdout.strip()
        say(f"  logs: {logs}")
        control_phase, control = show_pod(
            kubectl, "team-b", "hello", "namespace not enabled: pullpass leaves it alone"
        )
        secretless_ok = secretless_demo(installed, kubectl)
        ok = (
            today == ["testquay"]
            and served_phase == "Running"
            and any("Successfully pulled image" in m for m in served)
            and any("no basic auth credentials" in m or "401" in m for m in control)
            and "Running" not in control_phase
            and secretless_ok
        )
        if once:
            return 0 if ok else 1
        say()
        say(f"Try it yourself:  {' '.join(node.netns.wrapper())} \\")
        say(f"                    {kubectl.binary} --kubeconfig={node.control_plane.kubeconfig} \\")
        say("                    get events -n team-a")
        keep_running()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping the node and removing everything it made...")
        problems = node.stop()
        for problem in problems:
            say(f"  left behind: {problem}")
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after printing the result")
    args = parser.parse_args()
    if os.geteuid() == 0:
        say(FIRST_BUILD_NODE)
        return node_demo(args.once)
    say(FIRST_BUILD_CONTROL_PLANE)
    say(NODE_NEEDS)
    return control_plane_demo(args.once)


if __name__ == "__main__":
    sys.exit(main())
