"""What a user does and looks at on a real node, through kubectl: manifests written to files,
registry credentials, pods' phases, waiting reasons, events and logs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster.kubectl import Kubectl
from localcluster.release import Release
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import dry_run_create, pull_secrets

# The kubelet's event when a pull succeeded, and containerd 2's refusal without credentials.
PULLED = "Successfully pulled image"
REFUSED = "authorization failed: no basic auth credentials"
UNAUTHORIZED = "401 Unauthorized"
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff")


def write_manifest(directory: Path, name: str, *objects: dict[str, Any]) -> Path:
    """A YAML file as a user writes it (`pod.yml`), one document per object."""
    path = directory / name
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path


def busybox_pod(
    namespace: str,
    name: str,
    image: str,
    *,
    message: str | None = None,
    labels: dict[str, str] | None = None,
    pull_secrets: list[str] | None = None,
) -> dict[str, Any]:
    """A pod that prints `message` and stays Running: no imagePullSecrets unless given."""
    text = message or f"hello from {namespace}/{name}"
    manifest = objects.pod(namespace, image, name=name, labels=labels, pull_secrets=pull_secrets)
    manifest["spec"]["terminationGracePeriodSeconds"] = 0
    manifest["spec"]["containers"][0].update(
        name="app", command=["sh", "-c", f"echo {text}; sleep 3600"]
    )
    return manifest


def deployment(namespace: str, name: str, image: str, replicas: int) -> dict[str, Any]:
    """A Deployment of `replicas` pods labelled `app=NAME` that sleep: no imagePullSecrets."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {"name": "app", "image": image, "command": ["sh", "-c", "sleep 3600"]}
                    ],
                },
            },
        },
    }


def create_registry_secret(
    kubectl: Kubectl,
    namespace: str,
    name: str,
    server: str,
    user: str,
    password: str,
    *,
    update: bool = False,
) -> None:
    """`kubectl create secret docker-registry`, as the Rancher docs show it. `update`: create or
    update it the usual way, `create --dry-run -o yaml | apply`."""
    args = [
        "create",
        "secret",
        "docker-registry",
        name,
        "-n",
        namespace,
        f"--docker-server={server}",
        f"--docker-username={user}",
        f"--docker-password={password}",
    ]
    if not update:
        kubectl(*args)
        return
    manifest = kubectl(*args, "--dry-run=client", "-o", "yaml").stdout
    kubectl("apply", "-f", "-", input=manifest)


def get_pod(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = kubectl.json("get", "pod", name, "-n", namespace)
    return pod


def pods_of(kubectl: Kubectl, namespace: str, selector: str) -> list[dict[str, Any]]:
    listed = kubectl.json("get", "pods", "-n", namespace, "-l", selector)
    pods: list[dict[str, Any]] = listed["items"]
    return pods


def waiting_reasons(pod: dict[str, Any]) -> list[str]:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return [
        s["state"]["waiting"].get("reason", "") for s in statuses if "waiting" in s.get("state", {})
    ]


def still_stuck(pod: dict[str, Any]) -> bool:
    """Admitted without a credential and failing to pull."""
    return not pull_secrets(pod) and bool(set(waiting_reasons(pod)) & set(PULL_FAILURES))


def events(kubectl: Kubectl, namespace: str, name: str | None = None) -> list[str]:
    """Event messages in `namespace` (for the object `name`), as `kubectl get events` lists them."""
    args = ["get", "events", "-n", namespace]
    if name is not None:
        args.append(f"--field-selector=involvedObject.name={name}")
    listed = kubectl.json(*args)
    return [f"{e.get('reason', '')}: {e.get('message', '')}" for e in listed["items"]]


def describe(kubectl: Kubectl, namespace: str, name: str) -> str:
    done = kubectl("describe", "pod", name, "-n", namespace, check=False)
    return done.stdout[-3000:] + done.stderr[-1000:]


def wait_running(
    kubectl: Kubectl, namespace: str, name: str, timeout: float = 90
) -> dict[str, Any]:
    """The pod Running with its container started; fails at once on a pull failure, naming it."""
    deadline = time.monotonic() + timeout
    while True:
        pod = get_pod(kubectl, namespace, name)
        statuses = pod.get("status", {}).get("containerStatuses") or []
        if pod["status"].get("phase") == "Running" and all(s.get("started") for s in statuses):
            return pod
        failing = [r for r in waiting_reasons(pod) if r in PULL_FAILURES]
        if failing or time.monotonic() > deadline:
            raise AssertionError(
                f"pod {namespace}/{name} is not Running ({failing or pod['status'].get('phase')}); "
                f"events: {json.dumps(events(kubectl, namespace, name), indent=1)}\n"
                f"{describe(kubectl, namespace, name)}"
            )
        time.sleep(0.5)


def wait_pull_failure(
    kubectl: Kubectl, namespace: str, name: str, timeout: float = 60
) -> tuple[dict[str, Any], list[str]]:
    """The pod waiting in ErrImagePull or ImagePullBackOff, and its events then."""
    deadline = time.monotonic() + timeout
    while True:
        pod = get_pod(kubectl, namespace, name)
        if any(r in PULL_FAILURES for r in waiting_reasons(pod)):
            return pod, events(kubectl, namespace, name)
        if pod["status"].get("phase") == "Running" or time.monotonic() > deadline:
            raise AssertionError(
                f"pod {namespace}/{name} did not fail to pull (phase "
                f"{pod['status'].get('phase')}); {describe(kubectl, namespace, name)}"
            )
        time.sleep(0.5)


def wait_injected(kubectl: Kubectl, manifest: Path, secret: str, timeout: float = 20) -> None:
    """Until a server-side dry run of `manifest` gets `secret`: pullpass learns of a new Secret
    through its watch, a moment after `kubectl create` returns (a user would not notice)."""
    deadline = time.monotonic() + timeout
    while True:
        done = kubectl("apply", "--dry-run=server", "-o", "json", "-f", str(manifest), check=False)
        if done.returncode == 0:
            answer = json.loads(done.stdout)
            items = answer.get("items", [answer])
            if all(secret in pull_secrets(item) for item in items if item["kind"] == "Pod"):
                return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pullpass did not inject {secret} into {manifest.name} within {timeout}s: "
                f"{done.stdout[-1500:]}{done.stderr[-500:]}"
            )
        time.sleep(0.3)


def wait_serving(
    kubectl: Kubectl, namespace: str, image: str, secret: str, timeout: float = 30
) -> None:
    """Until pullpass would give a pod of `image` in `namespace` the credential `secret` (a
    server-side dry run): its index and copies follow the cluster through watches, a moment
    after kubectl returns."""
    pod = busybox_pod(namespace, "dry-run", image)
    deadline = time.monotonic() + timeout
    while True:
        done = dry_run_create(kubectl, json.dumps(pod), check=False)
        if done.returncode == 0 and secret in pull_secrets(json.loads(done.stdout)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pullpass does not serve {secret} for {image} in {namespace} after {timeout}s: "
                f"{done.stdout[-800:]}{done.stderr[-500:]}"
            )
        time.sleep(0.3)


@dataclass
class Stuck:
    """What an outage left: pods admitted without their credential, failing to pull."""

    namespace: str
    image: str
    web: set[str]  # uids of the Deployment `web`'s pods (label app=web)
    bare: str  # uid of the bare pod `bare`
    returned: float  # time.monotonic() when pullpass served again


def outage(
    pullpass: Release,
    namespace_with_credential: Callable[[str], tuple[str, str]],
    directory: Path,
    prefix: str,
    replicas: int,
) -> Stuck:
    """pullpass down (scaled to 0) while a bare pod and a Deployment of `replicas` pods are
    applied in a namespace it serves; then back, both replicas Ready. The webhook fails open:
    the pods are admitted, without their credential, and fail to pull."""
    kubectl = pullpass.node.kubectl
    namespace, image = namespace_with_credential(prefix)
    wait_serving(kubectl, namespace, image, "registry")

    pullpass.scale(0)
    eventually(lambda: not pullpass.pods(), 60, "every pullpass pod to be gone")
    bare = write_manifest(directory, "bare.yml", busybox_pod(namespace, "bare", image))
    kubectl("apply", "-f", str(bare))
    web = write_manifest(directory, "web.yml", deployment(namespace, "web", image, replicas))
    kubectl("apply", "-f", str(web))

    def all_web_pods() -> list[dict[str, Any]] | None:
        found = pods_of(kubectl, namespace, "app=web")
        return found if len(found) == replicas else None

    pods = eventually(all_web_pods, 60, "the Deployment's pods")
    for name in ["bare", *(p["metadata"]["name"] for p in pods)]:
        pod, _ = wait_pull_failure(kubectl, namespace, name)
        assert pull_secrets(pod) == [], name

    pullpass.scale(2)
    pullpass.wait_ready(2)
    return Stuck(
        namespace,
        image,
        {p["metadata"]["uid"] for p in pods},
        get_pod(kubectl, namespace, "bare")["metadata"]["uid"],
        time.monotonic(),
    )
