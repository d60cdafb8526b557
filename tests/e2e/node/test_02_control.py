"""The control: the same credential and pod in a namespace that is not enabled. Without pullpass
the kubelet pulls anonymously and the registry refuses it."""

from collections.abc import Callable
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.release import Release
from tests.e2e.node.actions import (
    REFUSED,
    busybox_pod,
    create_registry_secret,
    wait_pull_failure,
    write_manifest,
)
from tests.e2e.node.fixtures import Namespaces
from tests.kit.kubectl import pull_secrets


def test_pod_outside_pullpass_scope_is_refused_by_the_registry(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    namespace = namespaces.create("control", enabled=False)
    user, password = registry_user()
    registry = pullpass.node.registry.host
    create_registry_secret(kubectl, namespace, "myregistry", registry, user, password)
    image = fresh_image("control")
    # The registry holds the image and the account works: only the credential is missing.
    assert pullpass.node.registry.manifest_status(image, user, password) == 200
    assert pullpass.node.registry.manifest_status(image) == 401
    pod_yml = write_manifest(tmp_path, "pod.yml", busybox_pod(namespace, "app", image))

    kubectl("apply", "-f", str(pod_yml))

    pod, seen = wait_pull_failure(kubectl, namespace, "app")
    assert pull_secrets(pod) == []
    assert "pullpass.io/injected" not in (pod["metadata"].get("annotations") or {})
    assert any("ErrImagePull" in e for e in seen), seen
    assert any(REFUSED in e and image in e for e in seen), seen
