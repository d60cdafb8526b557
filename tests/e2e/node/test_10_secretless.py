"""Secretless mode on the real node: the kubelet's credential provider plugin asks pullpass, with
a token bound to the pod, and pulls with the answer; no Secret is copied and no pod changed.

The release is switched to secretless mode alone for this module (webhook and copies off), so a
pod that runs here got its credential from the kubelet's plugin and nothing else. The kubelet is
configured with the plugin for images under 127.0.0.1:5000/secretless only (localcluster/kubelet).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.kubectl import Kubectl
from localcluster.kubelet import AUDIENCE
from localcluster.release import NAMESPACE, SECRETLESS, Release
from tests.e2e.node.actions import (
    PULLED,
    REFUSED,
    UNAUTHORIZED,
    busybox_pod,
    create_registry_secret,
    events,
    get_pod,
    wait_pull_failure,
    wait_running,
    wait_serving,
    write_manifest,
)
from tests.e2e.node.fixtures import Namespaces, registry_prefix, report
from tests.kit.eventually import eventually
from tests.kit.kubectl import pull_secrets

CACHE_SECONDS = 5
# Secretless mode alone: no webhook, no copies.
SECRETLESS_ALONE = (
    *SECRETLESS,
    f"credentialProvider.cacheSeconds={CACHE_SECONDS}",
    "webhook.enabled=false",
    "replication.enabled=false",
)


PULL_TIMES: dict[str, list[float]] = {}
ROUNDS = 5


def time_to_pulled(kubectl: Kubectl, directory: Path, namespace: str, image: str) -> float:
    """Seconds from `kubectl apply` of a pod to its `Pulled` event (a fresh image each time)."""
    name = f"t{uuid.uuid4().hex[:6]}"
    manifest = write_manifest(directory, f"{name}.yml", pod_with(namespace, name, image))
    began = time.monotonic()
    kubectl("apply", "-f", str(manifest))
    eventually(
        lambda: any(PULLED in e for e in events(kubectl, namespace, name)),
        60,
        f"{namespace}/{name} pulled",
        every=0.05,
    )
    return time.monotonic() - began


def test_pull_time_with_the_webhook_and_a_copy(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Runs first, before the module switches the release to secretless mode."""
    name = f"p{uuid.uuid4().hex[:6]}"
    namespace = namespaces.create("timing", labels={"pullpass.io/project": name})
    first = fresh_image("timing")
    user, password = registry_user()
    source = project_source(kubectl, name, first, user, password)
    try:
        wait_serving(kubectl, namespace, first, source)
        repository = first.rsplit(":", 1)[0]
        images = [pullpass.node.registry.copy(first, f"{repository}:{i}") for i in range(ROUNDS)]
        PULL_TIMES["webhook and copy"] = [
            time_to_pulled(kubectl, tmp_path, namespace, image) for image in images
        ]
    finally:
        kubectl("delete", "secret", source, "-n", NAMESPACE, "--wait=false", check=False)


@pytest.fixture(scope="module")
def secretless(release: Release) -> Iterator[Release]:
    release.scale(2)
    release.wait_ready(2)
    release.upgrade(*SECRETLESS_ALONE)
    release.write_plugin_settings()
    try:
        yield release
    finally:
        release.node.kubelet.credential_settings.unlink(missing_ok=True)
        release.upgrade(reset=True)
        release.wait_ready(2)


def project_source(kubectl: Kubectl, project: str, image: str, user: str, password: str) -> str:
    """A project credential in the credentials namespace for the image's prefix."""
    name = f"secretless-{project}"
    server = registry_prefix(image)
    create_registry_secret(kubectl, NAMESPACE, name, server, user, password, update=True)
    kubectl("label", "secret", name, "-n", NAMESPACE, f"pullpass.io/project={project}")
    return name


def apply(kubectl: Kubectl, directory: Path, manifest: dict[str, Any]) -> None:
    name = f"{manifest['metadata']['namespace']}-{manifest['metadata']['name']}.yml"
    kubectl("apply", "-f", str(write_manifest(directory, name, manifest)))


def pod_with(
    namespace: str,
    name: str,
    image: str,
    policy: str = "Always",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    manifest = busybox_pod(namespace, name, image, labels=labels)
    manifest["spec"]["containers"][0]["imagePullPolicy"] = policy
    return manifest


def registry_secrets(kubectl: Kubectl, namespace: str) -> list[str]:
    listed = kubectl.json("get", "secrets", "-n", namespace)
    return [
        s["metadata"]["name"]
        for s in listed["items"]
        if s["type"] in ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")
    ]


@pytest.fixture
def project(
    secretless: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
) -> Iterator[tuple[str, str, str, str, str]]:
    """(project, namespace, image, user, source): an enabled namespace of a new project whose
    credential lives only in the credentials namespace, and a fresh image under secretless/."""
    name = f"p{uuid.uuid4().hex[:6]}"
    namespace = namespaces.create("secretless", labels={"pullpass.io/project": name})
    image = fresh_image("secretless")
    user, password = registry_user()
    source = project_source(kubectl, name, image, user, password)
    try:
        yield name, namespace, image, user, source
    finally:
        kubectl("delete", "secret", source, "-n", NAMESPACE, "--wait=false", check=False)


def test_a_pod_pulls_with_no_secret_in_its_namespace_and_none_named(
    project: tuple[str, str, str, str, str],
    kubectl: Kubectl,
    namespaces: Namespaces,
    tmp_path: Path,
) -> None:
    name, namespace, image, _, _ = project
    apply(kubectl, tmp_path, pod_with(namespace, "app", image))
    pod = wait_running(kubectl, namespace, "app")
    assert pull_secrets(pod) == []
    assert registry_secrets(kubectl, namespace) == []
    assert any(f'{PULLED} "{image}"' in e for e in events(kubectl, namespace, "app"))

    # Outside the credential's scope (another project): the registry refuses the pull.
    other = namespaces.create("secretless-other", labels={"pullpass.io/project": f"{name}x"})
    apply(kubectl, tmp_path, pod_with(other, "app", image))
    pod, seen = wait_pull_failure(kubectl, other, "app")
    assert pull_secrets(pod) == []
    assert any(REFUSED in e or UNAUTHORIZED in e for e in seen), seen

    # The image is now on the node; the kubelet still asks for a pod of another ServiceAccount.
    apply(kubectl, tmp_path, pod_with(other, "cached", image, policy="IfNotPresent"))
    _, seen = wait_pull_failure(kubectl, other, "cached")
    assert any(REFUSED in e or UNAUTHORIZED in e for e in seen), seen
    second = namespaces.create("secretless-same", labels={"pullpass.io/project": name})
    apply(kubectl, tmp_path, pod_with(second, "cached", image, policy="IfNotPresent"))
    wait_running(kubectl, second, "cached")


def test_a_pod_that_opted_out_is_refused_while_its_neighbour_pulls(
    secretless: Release,
    project: tuple[str, str, str, str, str],
    kubectl: Kubectl,
    tmp_path: Path,
) -> None:
    """The webhook's pod opt-out holds in secretless mode: pullpass reads the token's pod and
    answers nothing for it. That answer is not cached, so a pod of the same ServiceAccount and
    image right after it is asked about afresh, and pulls."""
    _, namespace, image, _, _ = project
    opted_out = pod_with(namespace, "opted-out", image, labels={"pullpass.io/inject": "disabled"})
    apply(kubectl, tmp_path, opted_out)
    pod, seen = wait_pull_failure(kubectl, namespace, "opted-out")
    assert pull_secrets(pod) == []
    assert any(REFUSED in e or UNAUTHORIZED in e for e in seen), seen
    eventually(
        lambda: opted_out_logged(secretless.logs(), namespace),
        30,
        "pullpass's log of the opted-out answer",
    )
    # Gone before the neighbour pulls: the kubelet's cache of the neighbour's answer (per image
    # and ServiceAccount, CACHE_SECONDS) would otherwise serve the opted-out pod's next retry.
    kubectl("delete", "pod", "opted-out", "-n", namespace, "--wait=true")
    apply(kubectl, tmp_path, pod_with(namespace, "neighbour", image))
    pod = wait_running(kubectl, namespace, "neighbour")
    assert pull_secrets(pod) == []


def opted_out_logged(logs: str, namespace: str) -> bool:
    """A `credentials none` line for the pod `opted-out` of `namespace`, reason `opted-out`."""
    wanted = {
        "msg": "credentials none",
        "reason": "opted-out",
        "namespace": namespace,
        "pod": "opted-out",
    }
    for line in logs.splitlines():
        try:
            entry = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        if wanted.items() <= entry.items():
            return True
    return False


def test_a_changed_password_reaches_the_next_pull_within_the_cache_bound(
    secretless: Release,
    project: tuple[str, str, str, str, str],
    kubectl: Kubectl,
    tmp_path: Path,
) -> None:
    name, namespace, image, user, _ = project
    registry = secretless.node.registry
    apply(kubectl, tmp_path, pod_with(namespace, "a", image))
    wait_running(kubectl, namespace, "a")

    new = uuid.uuid4().hex
    registry.set_password(user, new)
    apply(kubectl, tmp_path, pod_with(namespace, "b", image))
    _, seen = wait_pull_failure(kubectl, namespace, "b")
    assert any(REFUSED in e or UNAUTHORIZED in e for e in seen), seen

    changed = time.monotonic()
    project_source(kubectl, name, image, user, new)
    apply(kubectl, tmp_path, pod_with(namespace, "c", image))
    eventually(lambda: running(kubectl, namespace, "c"), 60, "the pod with the new password")
    took = time.monotonic() - changed
    report(
        f"secretless: source password changed -> a new pod of the same image Running {took:.1f}s"
    )
    # The kubelet may reuse the old answer for CACHE_SECONDS; a pull that failed meanwhile is
    # retried after the kubelet's back-off (10 s).
    assert took < CACHE_SECONDS + 10 + 15, took


def running(kubectl: Kubectl, namespace: str, name: str) -> bool:
    pod = get_pod(kubectl, namespace, name)
    return bool(pod["status"].get("phase") == "Running")


def test_tenant_tokens_obtain_nothing(
    secretless: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    project: tuple[str, str, str, str, str],
    tmp_path: Path,
) -> None:
    _, namespace, image, _, _ = project
    # `kubectl create token` for the audience: refused by the chart's policy (admin or tenant).
    done = kubectl(
        "create", "token", "default", "-n", namespace, f"--audience={AUDIENCE}", check=False
    )
    assert done.returncode != 0
    assert "only nodes may request a ServiceAccount token" in done.stderr, done.stderr
    # A pod projecting a token for the audience: refused.
    manifest = busybox_pod(namespace, "thief", image)
    manifest["spec"]["volumes"] = [
        {
            "name": "t",
            "projected": {
                "sources": [{"serviceAccountToken": {"audience": AUDIENCE, "path": "t"}}]
            },
        }
    ]
    done = kubectl("apply", "-f", str(write_manifest(tmp_path, "thief.yml", manifest)), check=False)
    assert done.returncode != 0
    assert "pods may not project a ServiceAccount token" in done.stderr, done.stderr

    # A token a tenant can get (the API server's audience), sent with the node's own
    # certificate through the plugin: pullpass's TokenReview for its audience refuses it.
    token = kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    answer = exchange(secretless, image, token)
    assert answer.returncode == 1
    assert b"pullpass answered 403" in answer.stderr, answer.stderr
    assert b"auth" not in answer.stdout


def exchange(release: Release, image: str, token: str) -> subprocess.CompletedProcess[bytes]:
    """The plugin run by hand, as the kubelet runs it (in the node's network namespace)."""
    node = release.node
    request = {
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": image,
        "serviceAccountToken": token,
    }
    plugin = (
        node.kubelet.root_dir.parent / "credential-provider-bin" / "pullpass-credential-provider"
    )
    return subprocess.run(
        [*node.netns.wrapper(), str(plugin), f"--settings={node.kubelet.credential_settings}"],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )


def test_the_plugins_time_per_call(
    secretless: Release,
    kubectl: Kubectl,
    project: tuple[str, str, str, str, str],
    tmp_path: Path,
) -> None:
    """The node's own token for a pod on it (as the kubelet requests one), exchanged by hand."""
    _, namespace, image, _, _ = project
    apply(kubectl, tmp_path, pod_with(namespace, "timed", image))
    pod = wait_running(kubectl, namespace, "timed")
    node = secretless.node
    as_node = Kubectl(node.kubelet.kubeconfig, node.binaries.kubectl, wrapper=node.netns.wrapper())
    token = as_node(
        "create", "token", "default", "-n", namespace, f"--audience={AUDIENCE}",
        "--bound-object-kind=Pod", f"--bound-object-name={pod['metadata']['name']}",
        f"--bound-object-uid={pod['metadata']['uid']}",
    ).stdout.strip()  # fmt: skip
    times = []
    for _ in range(20):
        began = time.monotonic()
        answer = exchange(secretless, image, token)
        times.append(time.monotonic() - began)
        assert answer.returncode == 0, answer.stderr
    granted = json.loads(answer.stdout)
    assert granted["cacheDuration"] == f"{CACHE_SECONDS}s"
    assert list(granted["auth"]) == [registry_prefix(image)]
    report(
        "secretless: plugin per call (exec, TLS with the node's certificate, TokenReview, pod "
        f"read, Secret read), 20 calls: median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )


def test_pull_time_secretless_next_to_the_webhook(
    secretless: Release,
    kubectl: Kubectl,
    project: tuple[str, str, str, str, str],
    tmp_path: Path,
) -> None:
    _, namespace, first, _, _ = project
    repository = first.rsplit(":", 1)[0]
    images = [secretless.node.registry.copy(first, f"{repository}:{i}") for i in range(ROUNDS)]
    PULL_TIMES["secretless"] = [time_to_pulled(kubectl, tmp_path, namespace, i) for i in images]
    for mode, times in PULL_TIMES.items():
        report(
            f"pod create -> Pulled, {mode}, {len(times)} fresh images: median "
            f"{statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms"
        )
    assert set(PULL_TIMES) == {"webhook and copy", "secretless"}
