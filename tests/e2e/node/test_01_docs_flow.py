"""The Rancher documentation's flow, literally: a registry credential made with
`kubectl create secret docker-registry` in an enabled namespace, a pod applied from a file with no
imagePullSecrets, and the kubelet pulling its image from the private registry."""

from collections.abc import Callable
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.release import Release
from tests.e2e.node.actions import (
    PULLED,
    busybox_pod,
    create_registry_secret,
    events,
    wait_injected,
    wait_running,
    write_manifest,
)
from tests.e2e.node.fixtures import Namespaces
from tests.kit.kubectl import pull_secrets


def test_pod_without_pull_secrets_pulls_with_the_injected_credential(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    namespace = namespaces.create("docs")
    user, password = registry_user()
    registry = pullpass.node.registry.host
    create_registry_secret(kubectl, namespace, "myregistry", registry, user, password)
    image = fresh_image("docs")
    pod_yml = write_manifest(
        tmp_path, "pod.yml", busybox_pod(namespace, "app", image, message="hello from the docs")
    )
    assert "imagePullSecrets" not in pod_yml.read_text()
    wait_injected(kubectl, pod_yml, "myregistry")

    kubectl("apply", "-f", str(pod_yml))

    pod = wait_running(kubectl, namespace, "app")
    assert pull_secrets(pod) == ["myregistry"]
    assert pod["metadata"]["annotations"]["pullpass.io/injected"] == "myregistry"
    listed = kubectl("get", "events", "-n", namespace).stdout
    assert f'{PULLED} "{image}"' in listed, listed
    assert any(f'{PULLED} "{image}"' in e for e in events(kubectl, namespace, "app"))
    assert kubectl("logs", "app", "-n", namespace).stdout == "hello from the docs\n"
