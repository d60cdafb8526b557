"""A cached image: once a pod has pulled it with a credential, the image is on the node, yet a
pod without that credential cannot use it (the kubelet's image credential verification, on by
default since 1.35, pulls again with what the pod has and the registry refuses), while a pod
that pullpass served runs from the cache."""

import json
from collections.abc import Callable
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.node import Node
from localcluster.release import Release
from tests.e2e.node.actions import (
    REFUSED,
    busybox_pod,
    create_registry_secret,
    events,
    get_pod,
    wait_pull_failure,
    wait_running,
    wait_serving,
    write_manifest,
)
from tests.e2e.node.fixtures import Namespaces, registry_prefix
from tests.kit.kubectl import pull_secrets


def on_the_node(node: Node, image: str) -> bool:
    """What an admin asks the node itself (`crictl inspecti`): the node status lists at most five
    names per image, and every test image here is the same busybox under another name."""
    return bool(node.containerd.crictl("inspecti", "-q", image, check=False).strip())


def test_cached_image_needs_the_credential_pullpass_injects(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    image = fresh_image("cached")
    server = registry_prefix(image)
    user, password = registry_user()
    first = namespaces.create("cache-first")
    create_registry_secret(kubectl, first, "registry", server, user, password)
    wait_serving(kubectl, first, image, "registry")
    kubectl("apply", "-f", str(write_manifest(tmp_path, "a.yml", busybox_pod(first, "a", image))))
    wait_running(kubectl, first, "a")
    assert pull_secrets(get_pod(kubectl, first, "a")) == ["registry"]
    assert on_the_node(pullpass.node, image)

    # Without the credential (a namespace pullpass does not serve): refused despite the cache.
    plain = namespaces.create("cache-plain", enabled=False)
    create_registry_secret(kubectl, plain, "registry", server, user, password)
    manifest = busybox_pod(plain, "b", image)
    manifest["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    kubectl("apply", "-f", str(write_manifest(tmp_path, "b.yml", manifest)))
    pod, seen = wait_pull_failure(kubectl, plain, "b")
    assert pull_secrets(pod) == []
    assert any(REFUSED in e for e in seen), json.dumps(seen, indent=1)

    # Served by pullpass in another enabled namespace: its own Secret, the same account.
    served = namespaces.create("cache-served")
    create_registry_secret(kubectl, served, "registry", server, user, password)
    wait_serving(kubectl, served, image, "registry")
    manifest = busybox_pod(served, "c", image)
    manifest["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    kubectl("apply", "-f", str(write_manifest(tmp_path, "c.yml", manifest)))
    pod = wait_running(kubectl, served, "c")
    assert pull_secrets(pod) == ["registry"]
    # Either the kubelet used the cache or it pulled again with the credential: both need it.
    seen = events(kubectl, served, "c")
    assert any("already present" in e or "Successfully pulled" in e for e in seen), seen
