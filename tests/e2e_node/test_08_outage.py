"""An outage: pullpass scaled to 0. Pods are still admitted (failurePolicy Ignore: pullpass never
blocks a pod) but get no credential and sit in ImagePullBackOff. Scaled back, new pods run.

What the outage leaves behind, checked at the end: a pod's imagePullSecrets cannot change after
creation, so every pod admitted during the outage keeps failing after pullpass is back: the bare
pod forever, and a Deployment's pod until something deletes it (its ReplicaSet does not replace a
pod that is merely failing to pull). With repair off (the chart's default) nothing evicts them;
`pullpass audit` finds them, and `serve --repair` evicts the Deployment's (test_09_repair).
"""

from collections.abc import Callable
from pathlib import Path

from e2e.actions import eventually

from e2e_node.actions import (
    busybox_pod,
    create_registry_secret,
    get_pod,
    pull_secret_names,
    wait_pull_failure,
    wait_running,
    wait_serving,
    waiting_reasons,
    write_manifest,
)
from e2e_node.fixtures import Namespaces, registry_prefix
from e2e_node.test_03_workloads import deployment, pods_of
from localcluster.kubectl import Kubectl
from localcluster.release import Release


def test_outage_fails_open_and_leaves_failing_pods_behind(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    namespace = namespaces.create("outage")
    image = fresh_image("outage")
    user, password = registry_user()
    create_registry_secret(kubectl, namespace, "registry", registry_prefix(image), user, password)
    wait_serving(kubectl, namespace, image, "registry")

    pullpass.scale(0)
    eventually(lambda: not pullpass.pods(), 60, "every pullpass pod to be gone")
    bare = write_manifest(tmp_path, "bare.yml", busybox_pod(namespace, "during", image))
    kubectl("apply", "-f", str(bare))  # admitted: the webhook fails open
    workload = write_manifest(tmp_path, "web.yml", deployment(namespace, "web", image, 1))
    kubectl("apply", "-f", str(workload))
    pod, _ = wait_pull_failure(kubectl, namespace, "during")
    assert pull_secret_names(pod) == []
    eventually(
        lambda: "ImagePullBackOff" in waiting_reasons(get_pod(kubectl, namespace, "during")),
        60,
        "ImagePullBackOff",
    )
    (web_pod,) = pods_of(kubectl, namespace, "app=web")
    assert pull_secret_names(web_pod) == []

    pullpass.scale(2)
    pullpass.wait_ready(2)
    after = write_manifest(tmp_path, "after.yml", busybox_pod(namespace, "after", image))
    kubectl("apply", "-f", str(after))
    assert pull_secret_names(wait_running(kubectl, namespace, "after")) == ["registry"]

    # Left behind: both pods admitted during the outage still lack the credential and fail.
    still = get_pod(kubectl, namespace, "during")
    assert pull_secret_names(still) == []
    assert set(waiting_reasons(still)) & {"ErrImagePull", "ImagePullBackOff"}
    (web_pod,) = pods_of(kubectl, namespace, "app=web")
    assert pull_secret_names(web_pod) == []
    assert set(waiting_reasons(web_pod)) & {"ErrImagePull", "ImagePullBackOff"}
